"""``balanceUpdate`` on the Binance user-data stream for deposits and withdrawals: a real
uvicorn process, a listen key from ``POST /api/v3/userDataStream``, and the wallets
services committing a deposit credit, a withdrawal hold and its release."""

from __future__ import annotations

import json
import time
import urllib.request
from decimal import Decimal

import pytest
from websockets.sync.client import connect

from marketdata.tests.support import asgi_server, make_market
from tests.api.conftest import trader
from wallets.models import Deposit
from wallets.services import (
    chain_deposit_simulate,
    deposit_credit,
    withdrawal_cancel,
    withdrawal_request,
)
from wallets.tests.helpers import ADDRESS, backup_codes, usable_address


def listen_key(host: str, api_key: str) -> str:
    request = urllib.request.Request(f"http://{host}/api/v3/userDataStream", method="POST",
                                     headers={"X-MBX-APIKEY": api_key})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http only)
        return json.load(response)["listenKey"]


def balance_updates(ws, count: int) -> list[dict]:
    out = []
    deadline = time.monotonic() + 10
    while len(out) < count:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["e"] == "balanceUpdate":
            out.append(frame)
    return out


@pytest.mark.django_db(transaction=True)
def test_deposit_and_withdrawal_send_balance_updates(settings):
    # given a trader following their user-data stream
    settings.WITHDRAWAL_APPROVAL_THRESHOLD = {"*": "0"}  # staff approval: no payout yet
    market = make_market()
    alice = trader(market)
    asset = market.base
    usable_address(alice.user, asset)
    (code,) = backup_codes(alice.user, 1)
    with asgi_server() as host:
        key = listen_key(host, alice.key)
        with connect(f"ws://{host}/ws/{key}") as ws:
            time.sleep(0.3)
            # when a deposit is credited, then a withdrawal is held and cancelled
            deposit = chain_deposit_simulate(user=alice.user, asset=asset,
                                             amount=Decimal("1.5"))
            Deposit.objects.filter(pk=deposit.pk).update(
                confirmations=asset.confirmations_required)
            assert deposit_credit(deposit_id=deposit.pk)
            withdrawal = withdrawal_request(user=alice.user, asset=asset, address=ADDRESS,
                                            amount=Decimal("0.5"), otp_code=code)
            withdrawal_cancel(user=alice.user, withdrawal_id=withdrawal.pk)
            frames = balance_updates(ws, 3)
    # then each change of the available balance arrives as Binance's balanceUpdate
    hold = withdrawal.amount + withdrawal.fee
    assert [(f["a"], Decimal(f["d"])) for f in frames] == [
        (asset.symbol, Decimal("1.5")), (asset.symbol, -hold), (asset.symbol, hold)]
    assert all(isinstance(f["E"], int) and isinstance(f["T"], int) for f in frames)
