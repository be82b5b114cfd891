"""Hypothesis: malformed numbers sent to every /api/v3 operation that takes an amount
(order, order/test, order/cancelReplace) get a 4xx with a code, and nothing changes
(balances and order counts identical)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.crypto import secret_encrypt
from accounts.models import ApiKey, User
from accounts.signing import signed_query
from exchange.demo import seed_demo
from orders.models import Order
from wallets.models import Balance

SECRET = "m" * 64

MALFORMED = st.one_of(
    st.sampled_from(["-1", "-0.01", "0", "0.0", "NaN", "nan", "Infinity", "-Infinity", "inf",
                     "1e3", "1E-5", "0x10", "1,5", "1.2.3", "", " ", "true", "null", "[1]",
                     "{}", "1" * 25, "0." + "0" * 25 + "1", "100000000000000000000000",
                     "0.000000000000000000001", "１", "1\u00a0", "+1", ".5", "5."]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str).filter(
        lambda s: not s.replace(".", "", 1).isdigit()),
    st.floats(max_value=-1e-9).map(repr),
    st.text(max_size=8).filter(lambda s: not s.replace(".", "", 1).isdigit()),
)
FIELDS = ("quantity", "price", "quoteOrderQty", "stopPrice")
ENDPOINTS = ("order", "order/test", "order/cancelReplace")


@pytest.fixture
def trader(db):
    seed_demo()
    user = User.objects.get(email="alice@bourse.local")
    key = ApiKey.objects.create(user=user, name="fuzz", key=hashlib.sha256(b"fz").hexdigest(),
                                secret_encrypted=secret_encrypt(SECRET),
                                scopes=["read", "trade"])
    return user, key


def state(user):
    return (sorted(Balance.objects.filter(user=user).values_list("asset_id", "available",
                                                                  "locked")),
            Order.objects.count())


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=MALFORMED, field=st.sampled_from(FIELDS), endpoint=st.sampled_from(ENDPOINTS),
       in_body=st.booleans())
def test_malformed_amounts_are_rejected_and_change_nothing(trader, value, field, endpoint,
                                                           in_body):
    user, key = trader
    before = state(user)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01", "price": "50000", "cancelReplaceMode": "STOP_ON_FAILURE",
              "cancelOrderId": "1", field: value}
    query = signed_query(SECRET, params)
    client = APIClient()
    if in_body:
        response = client.post(f"/api/v3/{endpoint}", data=query,
                               content_type="application/x-www-form-urlencoded",
                               HTTP_X_MBX_APIKEY=key.key)
    else:
        response = client.post(f"/api/v3/{endpoint}?{query}", HTTP_X_MBX_APIKEY=key.key)
    assert 400 <= response.status_code < 500, (value, response.content)
    assert isinstance(response.json()["code"], int) and response.json()["code"] < 0
    assert state(user) == before


JSON_MALFORMED = st.one_of(
    MALFORMED,
    st.sampled_from([-1, 0, -0.5, 1e30, 1e-30, True, False, None, [], {}, [1], {"a": 1}]),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f <= 0),
)
V1_FIELDS = ("quantity", "price", "quote_order_qty", "stop_price")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=JSON_MALFORMED, field=st.sampled_from(V1_FIELDS), as_form=st.booleans())
def test_v1_malformed_amounts_are_rejected_and_change_nothing(trader, value, field, as_form):
    # The native API reads an empty or null OPTIONAL amount as "not given" (form posts).
    assume(not (field in ("quote_order_qty", "stop_price") and value in ("", None)))
    user, _ = trader
    before = state(user)
    body = {"instrument": "BTC-USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
            "price": "50000", field: value}
    client = APIClient()
    client.force_login(user)
    if as_form and not isinstance(value, list | dict | type(None)):
        response = client.post("/api/v1/orders", data=body)
    else:
        response = client.post("/api/v1/orders", data=body, format="json")
    assert 400 <= response.status_code < 500, (value, response.content)
    assert isinstance(response.json()["code"], str) and response.json()["code"]
    assert state(user) == before
