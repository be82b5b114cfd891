"""Binance-style signed requests: accepted when right; each way of being wrong has its own
code (and Binance numeric code)."""

import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.authentication import SignedRequestAuthentication, SignedRequestError
from accounts.models import ApiKey
from accounts.signing import sign_params, signed_query
from accounts.tests.factories import ApiKeyFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls_test")]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _get(client, path, key, query):
    return client.get(f"{path}?{query}", HTTP_X_MBX_APIKEY=key.key)


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR="127.0.0.1")


def test_correctly_signed_request_is_accepted_and_marks_last_use(api):
    key, secret = ApiKeyFactory(scopes=["read"])
    response = _get(api, "/api/test/account", key, signed_query(secret, {"symbol": "BTCUSDT"}))
    assert response.status_code == 200, response.json()
    assert response.json() == {"user": key.user.email}
    assert int(response["X-MBX-USED-WEIGHT-1M"]) >= 1
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_signature_covers_query_string_then_body(api):
    key, secret = ApiKeyFactory(scopes=["read", "trade"])
    query = urlencode({"symbol": "BTCUSDT", "timestamp": _now_ms()})
    body = urlencode({"side": "BUY", "quantity": "0.01000000"})
    signature = sign_params(secret, query, body)
    response = api.post(f"/api/test/order?{query}&signature={signature}", body,
                        content_type="application/x-www-form-urlencoded",
                        HTTP_X_MBX_APIKEY=key.key)
    assert response.status_code == 200, response.json()
    assert response.json()["params"]["quantity"] == "0.01000000"

    # the same signature with a changed body is refused
    tampered = urlencode({"side": "BUY", "quantity": "9.00000000"})
    response = api.post(f"/api/test/order?{query}&signature={signature}", tampered,
                        content_type="application/x-www-form-urlencoded",
                        HTTP_X_MBX_APIKEY=key.key)
    assert response.json()["code"] == "signature_invalid"

    # signature may travel in the body too (Binance allows either)
    all_in_body = urlencode({"symbol": "ETHUSDT", "timestamp": _now_ms()})
    response = api.post("/api/test/order",
                        f"{all_in_body}&signature={sign_params(secret, '', all_in_body)}",
                        content_type="application/x-www-form-urlencoded",
                        HTTP_X_MBX_APIKEY=key.key)
    assert response.status_code == 200, response.json()


def test_tampered_parameter_is_rejected(api):
    key, secret = ApiKeyFactory()
    query = signed_query(secret, {"symbol": "BTCUSDT"})
    response = _get(api, "/api/test/account", key, query.replace("BTCUSDT", "ETHUSDT"))
    assert response.status_code == 400
    assert response.json()["code"] == "signature_invalid"


@pytest.mark.parametrize(("offset_ms", "recv_window"), [(-6000, None), (+2000, None),
                                                         (-61000, 60000)])
def test_stale_or_future_timestamp_is_rejected(api, offset_ms, recv_window):
    key, secret = ApiKeyFactory()
    query = signed_query(secret, timestamp_ms=_now_ms() + offset_ms, recv_window=recv_window)
    response = _get(api, "/api/test/account", key, query)
    assert response.status_code == 400
    assert response.json()["code"] == "timestamp_outside_recv_window"


def test_replay_outside_the_window_is_rejected(api):
    key, secret = ApiKeyFactory()
    query = signed_query(secret, recv_window=300)
    assert _get(api, "/api/test/account", key, query).status_code == 200
    time.sleep(0.4)
    replay = _get(api, "/api/test/account", key, query)
    assert replay.status_code == 400
    assert replay.json()["code"] == "timestamp_outside_recv_window"


def test_recv_window_above_maximum_and_missing_parameters(api):
    key, secret = ApiKeyFactory()
    too_big = _get(api, "/api/test/account", key, signed_query(secret, recv_window=60001))
    assert too_big.json()["code"] == "invalid_recv_window"
    no_ts = _get(api, "/api/test/account", key,
                 f"a=1&signature={sign_params(secret, 'a=1')}")
    assert no_ts.json()["code"] == "timestamp_required"
    no_sig = _get(api, "/api/test/account", key, f"timestamp={_now_ms()}")
    assert no_sig.json()["code"] == "signature_required"


def test_read_only_key_cannot_place_an_order(api):
    key, secret = ApiKeyFactory(scopes=["read"])
    response = api.post(f"/api/test/order?{signed_query(secret, {'symbol': 'BTCUSDT'})}",
                        HTTP_X_MBX_APIKEY=key.key)
    assert response.status_code == 403
    assert response.json()["code"] == "scope_not_granted"
    trade_key, trade_secret = ApiKeyFactory(scopes=["read", "trade"])
    ok = api.post(f"/api/test/order?{signed_query(trade_secret, {'symbol': 'BTCUSDT'})}",
                  HTTP_X_MBX_APIKEY=trade_key.key)
    assert ok.status_code == 200


def test_keys_never_reach_account_management(api):
    key, secret = ApiKeyFactory(scopes=["read", "trade", "withdraw"],
                                ip_allowlist=["127.0.0.1"])
    response = _get(api, "/api/v1/api-keys", key, signed_query(secret))
    assert response.status_code == 403
    assert response.json()["code"] == "scope_not_granted"
    assert _get(api, "/api/v1/me", key, signed_query(secret)).status_code == 200


def test_request_from_outside_the_allow_list_is_rejected():
    key, secret = ApiKeyFactory(ip_allowlist=["10.0.0.0/8", "192.0.2.7"])
    outside = APIClient(REMOTE_ADDR="127.0.0.1")
    response = _get(outside, "/api/test/account", key, signed_query(secret))
    assert response.status_code == 401
    assert response.json()["code"] == "ip_not_allowed"
    inside = APIClient(REMOTE_ADDR="10.20.30.40")
    assert _get(inside, "/api/test/account", key, signed_query(secret)).status_code == 200


def test_revoked_unknown_malformed_and_expired_keys_are_rejected(api):
    key, secret = ApiKeyFactory()
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert _get(api, "/api/test/account", key, signed_query(secret)).json()["code"] == \
        "api_key_revoked"

    unknown = api.get(f"/api/test/account?{signed_query(secret)}",
                      HTTP_X_MBX_APIKEY="A" * 64)
    assert unknown.status_code == 401 and unknown.json()["code"] == "api_key_invalid"
    malformed = api.get(f"/api/test/account?{signed_query(secret)}",
                        HTTP_X_MBX_APIKEY="not a key!")
    assert malformed.json()["code"] == "api_key_format_invalid"

    expired, expired_secret = ApiKeyFactory(expires_at=timezone.now() + timedelta(seconds=1))
    ApiKey.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert _get(api, "/api/test/account", expired,
                signed_query(expired_secret)).json()["code"] == "api_key_expired"


@pytest.mark.parametrize(("mutation", "code", "binance_code"), [
    ("signature", "signature_invalid", -1022),
    ("timestamp", "timestamp_outside_recv_window", -1021),
    ("revoked", "api_key_revoked", -2015),
    ("format", "api_key_format_invalid", -2014),
])
def test_errors_carry_the_binance_code(mutation, code, binance_code):
    key, secret = ApiKeyFactory()
    ts = _now_ms() - (10_000 if mutation == "timestamp" else 0)
    query = signed_query(secret, {"x": "1"}, timestamp_ms=ts)
    if mutation == "signature":
        query = query.replace("x=1", "x=2")
    if mutation == "revoked":
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    header = "bad key" if mutation == "format" else key.key
    request = Request(APIRequestFactory().get(f"/api/test/account?{query}",
                                              HTTP_X_MBX_APIKEY=header))
    with pytest.raises(SignedRequestError) as caught:
        SignedRequestAuthentication().authenticate(request)
    assert caught.value.code == code
    assert caught.value.binance_code == binance_code


def test_secret_is_encrypted_at_rest():
    key, secret = ApiKeyFactory()
    stored = ApiKey.objects.values_list("secret_encrypted", flat=True).get(pk=key.pk)
    assert secret not in stored and len(stored) > 64


@override_settings(API_RATE_LIMITS={"IP_WEIGHT_PER_MINUTE": 100_000,
                                    "KEY_WEIGHT_PER_MINUTE": 1000})
def test_weighted_rate_limit_per_key_gives_429_with_retry_after(api):
    key, secret = ApiKeyFactory()
    used = []
    for _ in range(2):
        response = _get(api, "/api/test/heavy", key, signed_query(secret))
        assert response.status_code == 200
        used.append(int(response["X-MBX-USED-WEIGHT-1M"]))
    assert used[1] - used[0] == 400  # the view weighs 400
    limited = _get(api, "/api/test/heavy", key, signed_query(secret))
    if limited.status_code == 200:  # the minute rolled over between requests
        limited = _get(api, "/api/test/heavy", key, signed_query(secret))
        limited = _get(api, "/api/test/heavy", key, signed_query(secret))
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "X-MBX-USED-WEIGHT-1M" in limited


@override_settings(API_RATE_LIMITS={"IP_WEIGHT_PER_MINUTE": 5, "KEY_WEIGHT_PER_MINUTE": 1000})
def test_weighted_rate_limit_per_ip():
    client = APIClient(REMOTE_ADDR="198.51.100.9")
    statuses = [client.get("/api/v1/me").status_code for _ in range(7)]
    assert statuses[:5] == [403] * 5 or statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    other_ip = APIClient(REMOTE_ADDR="198.51.100.10")
    assert other_ip.get("/api/v1/me").status_code != 429


def test_session_requests_pass_scope_checks_with_csrf():
    user = UserFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/test/account").status_code == 200
    refused = client.post("/api/test/order", {})
    assert refused.status_code == 403  # no CSRF token
    client.get("/api/v1/auth/csrf")
    token = client.cookies["csrftoken"].value
    assert client.post("/api/test/order", {}, HTTP_X_CSRFTOKEN=token).status_code == 200
