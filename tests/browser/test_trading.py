"""Two users trade against each other through the UI and see it live; the order form
shows an API error at its field; a withdrawal asks for the 2FA code; the trading page
keeps up with 50 trades/s."""

import base64
import time
from datetime import timedelta

import pyotp
import pytest

from accounts.models import User
from exchange.demo import seed_demo

from .conftest import login_context, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
READY = "document.documentElement.dataset.ready === '1'"


def _open(ctx, path="/trade/BTC-USDT/"):
    page = ctx.new_page()
    page.goto(path)
    page.wait_for_function(READY)
    page.wait_for_function("document.documentElement.dataset.stream === 'live'")
    return page


def _order(page, side, price, qty):
    page.click(f'#order-form [data-side="{side}"]')
    page.fill("#f-price", price)
    page.fill("#f-qty", qty)
    page.click("#f-submit")


def _text(page, selector):
    return page.locator(selector).inner_text()


def test_two_users_trade_through_the_ui_and_see_it_live(browser, live_server_url, matcher):
    # given: alice and bob, funded, each on the BTC-USDT page in their own context
    seed_demo()
    alice = User.objects.get(email="alice@bourse.local")
    bob = User.objects.get(email="bob@bourse.local")
    a_ctx = login_context(browser, live_server_url, alice)
    b_ctx = login_context(browser, live_server_url, bob)
    # ETH-USDT: the page test trades BTC-USDT with its own matcher run, and a restarted
    # matcher numbers depth updates from 0 again while Redis and the server's hub keep the
    # old lastUpdateId (see docs/UI.md, Known issues)
    a, b = _open(a_ctx, "/trade/ETH-USDT/"), _open(b_ctx, "/trade/ETH-USDT/")
    for page in (a, b):  # a reload would drop this marker
        page.evaluate("window.__noReload = 1")
    before = {(name, asset): _text(page, f'#balances-mini [data-asset="{asset}"]')
              for name, page in (("a", a), ("b", b)) for asset in ("ETH", "USDT")}
    # when: alice rests a sell, bob sees it in the book and buys it
    _order(a, "SELL", "3000.00", "0.1000")
    a.wait_for_selector("#open-orders tr[data-order-id]")
    b.wait_for_selector("#asks .row[data-price^='3000']")
    started = time.monotonic()
    _order(b, "BUY", "3000.00", "0.1000")
    # then: both see the trade on the tape, in their own trades, and their balances move
    tape_ids = []
    for page in (a, b):
        page.wait_for_selector("#tape-rows .row[data-trade-id]", timeout=10000)
        tape_ids.append(page.locator("#tape-rows .row[data-trade-id]").first
                        .get_attribute("data-trade-id"))
    seen_ms = (time.monotonic() - started) * 1000
    assert tape_ids[0] == tape_ids[1]
    for name, page in (("a", a), ("b", b)):
        for asset in ("ETH", "USDT"):
            sel = f'#balances-mini [data-asset="{asset}"]'
            page.wait_for_function(f"document.querySelector('{sel}').textContent"
                                   f" !== {before[(name, asset)]!r}", timeout=10000)
        page.click("#tab-trades")
        page.wait_for_selector("#my-trades tr[data-trade-id]", timeout=10000)
        assert page.evaluate("window.__noReload") == 1
    a.wait_for_function("document.querySelectorAll('#open-orders tr[data-order-id]').length"
                        " === 0")
    assert "SELL" in _text(a, "#my-trades tr[data-trade-id]")
    assert "BUY" in _text(b, "#my-trades tr[data-trade-id]")
    a_usdt_after = _text(a, '#balances-mini [data-asset="USDT"]')
    print(f"\ntwo users: bob's click to both tapes showing trade {tape_ids[0]}: "
          f"{seen_ms:.0f} ms; alice USDT {before[('a', 'USDT')]} -> {a_usdt_after}")
    screenshot(a, "trade-after-fill-1280")
    screenshot(b, "trade-after-fill-buyer-1280")
    a_ctx.close()
    b_ctx.close()


def test_order_form_shows_the_api_error_at_the_field(browser, live_server_url):
    # given
    seed_demo()
    alice = User.objects.get(email="alice@bourse.local")
    ctx = login_context(browser, live_server_url, alice)
    page = _open(ctx)
    # when: a price that is not a multiple of the tick size (0.01)
    _order(page, "BUY", "60000.001", "0.01000")
    # then: the API's fields[price] message is shown under the price input
    page.wait_for_function("document.getElementById('e-price').textContent.length > 0")
    assert page.get_attribute("#f-price", "aria-invalid") == "true"
    screenshot(page, "trade-field-error-1280")
    ctx.close()


def test_withdrawal_asks_for_the_2fa_code(browser, live_server_url):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.lockout import lockout_clear
    from wallets.models import Asset, WithdrawalAddress
    from wallets.services.withdrawals import withdrawal_address_add

    # given: alice has 2FA (her session passed it) and an address past its cool-down
    seed_demo()
    alice = User.objects.get(email="alice@bourse.local")
    # Redis outlives the test database: earlier runs' wrong codes must not lock her out
    lockout_clear(email=alice.email)
    device = TOTPDevice.objects.create(user=alice, name="default", confirmed=True)
    entry = withdrawal_address_add(user=alice, asset=Asset.objects.get(symbol="USDT"),
                                   address="0x" + "ab" * 20, label="cold wallet")
    WithdrawalAddress.objects.filter(pk=entry.pk).update(
        usable_after=entry.usable_after - timedelta(days=2))
    ctx = login_context(browser, live_server_url, alice, otp_device=device)
    page = _open(ctx, "/wallet/")
    # when: she withdraws to it, picked from the address book, with a wrong code
    page.select_option("#w-book", "0")
    assert page.input_value("#w-asset") == "USDT"
    assert page.input_value("#w-address") == "0x" + "ab" * 20
    page.fill("#w-amount", "50")
    page.fill("#w-otp", "000000")
    page.click('#wd-form button[type="submit"]')
    # then: the refusal is shown at the 2FA field
    page.wait_for_function("document.getElementById('e-otp').textContent.length > 0 || "
                           "!document.getElementById('w-err').hidden")
    assert page.get_attribute("#w-otp", "aria-invalid") == "true", (
        page.locator("#w-err").inner_text())
    screenshot(page, "wallet-2fa-error-1280")
    # and with the right code the request is accepted, the balance moves without a reload
    before = page.locator('#balances tr[data-asset="USDT"] [data-f="available"]').inner_text()
    page.wait_for_timeout(1500)  # django-otp throttles a device 2^n s after n failures
    code = pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()
    page.fill("#w-otp", code)
    page.click('#wd-form button[type="submit"]')
    page.wait_for_function("!document.getElementById('w-ok').hidden || "
                           "!document.getElementById('w-err').hidden || "
                           "document.getElementById('e-otp').textContent.length > 0")
    outcome = (page.locator("#w-ok").inner_text() or page.locator("#w-err").inner_text()
               or page.locator("#e-otp").inner_text())
    print(f"\nwithdrawal with the right code: {outcome!r}")
    assert page.locator("#w-ok").is_visible(), outcome
    page.wait_for_function(
        "document.querySelector('#balances tr[data-asset=\"USDT\"] [data-f=\"available\"]')"
        f".textContent !== {before!r}")
    screenshot(page, "wallet-withdrawal-1280")
    ctx.close()


def test_trading_page_keeps_up_with_50_trades_per_second(browser, live_server_url):
    from marketdata.publishing import publish_batch

    # given: a page subscribed to BTC-USDT
    seed_demo()
    alice = User.objects.get(email="alice@bourse.local")
    ctx = login_context(browser, live_server_url, alice)
    page = _open(ctx)
    page.wait_for_timeout(500)
    # when: 250 trades are published at 50/s (5 s), through the real publishing path
    snapshot = {"lastUpdateId": 0, "bids": [], "asks": []}
    start = time.monotonic()
    for i in range(250):
        now_ms = int(time.time() * 1000)
        trade = {"id": 10_000 + i, "market": "BTC-USDT", "price": f"{60000 + i % 7}.00",
                 "quantity": "0.00100", "quote_quantity": "60.00", "taker_side": "BUY",
                 "buy_order_id": 1, "sell_order_id": 2, "buyer_id": alice.pk,
                 "seller_id": alice.pk, "time": now_ms}
        publish_batch(market="BTC-USDT", trades=[trade], depth_update=None,
                      depth_snapshot=snapshot, order_updates=[], balance_updates=[])
        time.sleep(max(0.0, start + (i + 1) / 50 - time.monotonic()))
    page.wait_for_function("window.__bourse.tradesSeen >= 250", timeout=10000)
    lags = page.evaluate("window.__bourse.lags.slice().sort((a, b) => a - b)")
    arrivals = page.evaluate("window.__bourse.arrivals.slice().sort((a, b) => a - b)")
    renders = page.evaluate("window.__bourse.renders")
    ctx.close()
    # then: every trade was shown, with its lag from publish time to painted frame, split
    # into server (publish -> WebSocket message in the page) and browser (message -> frame)
    def pct(xs, q):
        return xs[min(len(xs) - 1, int(len(xs) * q))]

    p50, p99 = pct(lags, 0.5), pct(lags, 0.99)
    print(f"\n50 trades/s for 5 s: {len(lags)} shown in {renders} frames, lag publish->paint "
          f"p50 {p50} ms, p99 {p99} ms, max {lags[-1]} ms; publish->message p50 "
          f"{pct(arrivals, 0.5)} ms, p99 {pct(arrivals, 0.99)} ms (the rest is the browser)")
    assert len(lags) >= 250
    # The lag figures are the measurement (printed, recorded in docs/UI.md); the bound only
    # catches a page that stops keeping up altogether, not a slow shared machine.
    assert p99 < 10_000, lags[-20:]
