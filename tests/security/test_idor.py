"""IDOR matrix: user B asks for every one of user A's resources on every API and gets
404 (the native API and pages) or Binance's "unknown order" (/api/v3), and A's objects
are unchanged afterwards. B's own lists never contain A's objects."""

from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pyotp
import pytest
from django.core.files.base import ContentFile
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.audit import security_event_record
from accounts.models import ApiKey, KycDocument, KycSubmission, SecurityEvent
from accounts.signing import sign_params
from accounts.tests.factories import ApiKeyFactory, UserFactory
from marketdata.models import Market
from orders import services as order_services
from orders.models import Order
from wallets.models import Asset, Balance
from wallets.services.balances import demo_topup
from wallets.services.withdrawals import withdrawal_address_add, withdrawal_request

D = Decimal
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _market() -> Market:
    usdt, _ = Asset.objects.get_or_create(symbol="USDT", defaults={"name": "Tether",
                                                                    "precision": 8})
    btc, _ = Asset.objects.get_or_create(symbol="BTC", defaults={
        "name": "Bitcoin", "precision": 8, "min_withdrawal": D("0.001"),
        "withdrawal_fee": D("0.0001")})
    market, _ = Market.objects.get_or_create(symbol="BTC-USDT", defaults=dict(
        base=btc, quote=usdt, tick_size=D("0.01"), step_size=D("0.00001"),
        min_qty=D("0.00001"), max_qty=D("1000"), min_notional=D("5"),
        reference_price=D("60000")))
    return market


@pytest.fixture
def world(db, settings):
    """User A with one of everything; user B with a session and a read/trade key."""
    settings.WITHDRAWAL_ADDRESS_COOLDOWN = 0
    market = _market()
    alice = UserFactory(kyc_tier=2)
    bob = UserFactory(kyc_tier=2)
    demo_topup(user=alice, asset=market.quote, target=D("10000"))
    demo_topup(user=alice, asset=market.base, target=D("1"))
    order = order_services.order_place(user=alice, market=market, side="SELL", type="LIMIT",
                                       quantity=D("0.1"), price=D("61000.00"),
                                       client_order_id="alice-secret-order")
    key, _secret = ApiKeyFactory(user=alice, scopes=["read", "trade"])
    submission = KycSubmission.objects.create(user=alice, tier=2, legal_name="Alice A")
    document = KycDocument.objects.create(
        submission=submission, kind="selfie", content_type="image/png", size=len(PNG),
        sha256=hashlib.sha256(PNG).hexdigest(), file=ContentFile(PNG, name="selfie.png"))
    event = security_event_record(user=alice, kind="login_succeeded")
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    address = withdrawal_address_add(user=alice, asset=market.base,
                                     address="aliceaddress0000000001")
    withdrawal = withdrawal_request(
        user=alice, asset=market.base, address=address.address, amount=D("0.01"),
        otp_code=pyotp.TOTP(_b32(device)).now())
    bob_key, bob_secret = ApiKeyFactory(user=bob, scopes=["read", "trade"])
    return dict(market=market, alice=alice, bob=bob, order=order, key=key, document=document,
                event=event, address=address, withdrawal=withdrawal, bob_key=bob_key,
                bob_secret=bob_secret)


def _b32(device: TOTPDevice) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode()


def _state(w) -> tuple:
    """Everything of A's that B might have changed."""
    order = Order.objects.get(pk=w["order"].pk)
    return (
        order.status, order.cancel_requested, order.quantity, order.price,
        ApiKey.objects.get(pk=w["key"].pk).revoked_at,
        KycDocument.objects.filter(pk=w["document"].pk).exists(),
        SecurityEvent.objects.filter(pk=w["event"].pk).exists(),
        type(w["address"]).objects.filter(pk=w["address"].pk).exists(),
        type(w["withdrawal"]).objects.get(pk=w["withdrawal"].pk).status,
        sorted(Balance.objects.filter(user=w["alice"]).values_list("asset_id", "available",
                                                                   "locked")),
    )


NATIVE_MATRIX = [
    # (method, url template, body)
    ("get", "/api/v1/orders/{order}", None),
    ("delete", "/api/v1/orders/{order}", None),
    ("post", "/api/v1/orders/{order}/amend", {"quantity": "0.05"}),
    ("get", "/api/v1/orders/by-client-id/alice-secret-order", None),
    ("delete", "/api/v1/orders/by-client-id/alice-secret-order", None),
    ("get", "/api/v1/api-keys/{key}", None),
    ("delete", "/api/v1/api-keys/{key}", None),
    ("post", "/api/v1/api-keys/{key}/revoke", {}),
    ("get", "/api/v1/kyc/documents/{document}", None),
    ("get", "/api/v1/security-events/{event}", None),
    ("post", "/api/v1/withdrawals/{withdrawal}/cancel", {}),
    ("delete", "/api/v1/withdrawal-addresses/{address}", None),
    ("post", "/accounts/api-keys/{key}/revoke/", {}),
    ("get", "/accounts/kyc/documents/{document}/", None),
]


def _fill(template: str, w) -> str:
    return template.format(order=w["order"].pk, key=w["key"].pk, document=w["document"].pk,
                           event=w["event"].pk, withdrawal=w["withdrawal"].pk,
                           address=w["address"].pk)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template", "body"), NATIVE_MATRIX,
                         ids=[f"{m} {t}" for m, t, _ in NATIVE_MATRIX])
def test_another_users_resource_is_404_and_unchanged(world, method, template, body):
    # given B logged in with a session
    client = APIClient()
    client.force_login(world["bob"])
    before = _state(world)
    # when B asks for A's object
    url = _fill(template, world)
    response = getattr(client, method)(url, body, format="json") if body is not None \
        else getattr(client, method)(url)
    # then it does not exist for B, and nothing of A's changed
    assert response.status_code in (404, 405), (url, response.status_code, response.content)
    if method == "get":
        assert response.status_code == 404, url
    assert _state(world) == before


@pytest.mark.django_db
def test_another_users_orders_are_unknown_on_the_binance_api(world):
    client = APIClient()
    before = _state(world)
    for method, extra in (("get", {}), ("delete", {})):
        params = {"symbol": "BTCUSDT", "orderId": world["order"].pk,
                  "timestamp": int(time.time() * 1000), **extra}
        query = urlencode(params)
        signed = f"{query}&signature={sign_params(world['bob_secret'], query)}"
        response = getattr(client, method)(f"/api/v3/order?{signed}",
                                           HTTP_X_MBX_APIKEY=world["bob_key"].key)
        assert response.status_code in (400, 404), response.content
        assert response.json()["code"] in (-2013, -2011), response.content
    assert _state(world) == before


LISTS = [
    "/api/v1/orders", "/api/v1/orders/open", "/api/v1/trades", "/api/v1/balances",
    "/api/v1/ledger", "/api/v1/deposits", "/api/v1/withdrawals",
    "/api/v1/withdrawal-addresses", "/api/v1/api-keys", "/api/v1/security-events",
    "/api/v1/kyc", "/api/v1/exports/ledger.csv?start={start}&end={end}",
    "/api/v1/exports/trades.csv?start={start}&end={end}",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", LISTS)
def test_lists_never_show_another_users_objects(world, url):
    client = APIClient()
    client.force_login(world["bob"])
    today = date.today()
    url = url.format(start=today - timedelta(days=1), end=today + timedelta(days=1))
    response = client.get(url)
    assert response.status_code == 200, (url, response.content)
    text = b"".join(response.streaming_content) if response.streaming else response.content
    for secret_marker in (b"alice-secret-order", world["alice"].email.encode(),
                          world["address"].address.encode(), world["key"].key.encode()):
        assert secret_marker not in text, (url, secret_marker)
