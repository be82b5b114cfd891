"""CSRF is enforced for session-authenticated writes on every API; signed-key requests
(no cookies) don't need it."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from orders.models import Order
from tests.security.test_idor import _market
from wallets.services.balances import demo_topup

ORDER = {"market": "BTC-USDT", "side": "BUY", "type": "LIMIT", "price": "59000.00",
         "quantity": "0.001"}


@pytest.fixture
def trader(db):
    market = _market()
    user = UserFactory(kyc_tier=2)
    demo_topup(user=user, asset=market.quote, target=Decimal("1000"))
    return user


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url", "body"), [
    ("post", "/api/v1/orders", ORDER),
    ("post", "/api/v1/orders/cancel-all", {}),
    ("post", "/api/v1/api-keys", {"name": "x", "scopes": ["read"]}),
    ("post", "/api/v1/withdrawal-addresses", {"asset": "BTC", "address": "abcdefghij0123"}),
    ("post", "/api/v1/auth/logout", {}),
])
def test_session_write_without_csrf_token_is_refused(trader, method, url, body):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(trader)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 403, (url, response.content)
    assert response.json()["code"] in {"permission_denied", "csrf_failed"}
    assert Order.objects.filter(user=trader).count() == 0


@pytest.mark.django_db
def test_session_write_with_csrf_token_is_accepted(trader):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(trader)
    token = client.get("/api/v1/auth/csrf").cookies["csrftoken"].value
    response = client.post("/api/v1/orders", ORDER, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 201), response.content
    assert Order.objects.filter(user=trader).count() == 1
