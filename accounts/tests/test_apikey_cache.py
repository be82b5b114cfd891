"""The per-process API-key cache (accounts.apikey_cache) never keeps a changed key
usable: a revocation through the service, a raw UPDATE followed by a generation bump
(what another process's save does), and a frozen user are all refused on the next
request."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import apikey_cache
from accounts.models import ApiKey
from accounts.services.apikeys import api_key_revoke
from accounts.signing import signed_query
from accounts.tests.factories import ApiKeyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls_test")]


def _get(client, key, secret):
    return client.get(f"/api/test/account?{signed_query(secret)}", HTTP_X_MBX_APIKEY=key.key)


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR="127.0.0.1")


def test_signed_request_uses_the_cache(api, django_assert_num_queries):
    key, secret = ApiKeyFactory(scopes=["read"])
    assert _get(api, key, secret).status_code == 200
    assert key.key in apikey_cache._cache
    with django_assert_num_queries(0):  # no key SELECT, and last_used_at is recent
        assert _get(api, key, secret).status_code == 200


def test_revocation_through_the_service_applies_at_once(api):
    key, secret = ApiKeyFactory(scopes=["read"])
    assert _get(api, key, secret).status_code == 200
    api_key_revoke(user=key.user, key_id=key.pk)
    response = _get(api, key, secret)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_change_seen_by_another_process_applies_at_once(api):
    key, secret = ApiKeyFactory(scopes=["read"])
    assert _get(api, key, secret).status_code == 200
    # A raw UPDATE sends no signal: this process's cache still holds the key ...
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert key.key in apikey_cache._cache
    # ... until the generation moves, as another process's save makes it after commit.
    apikey_cache._bump()
    response = _get(api, key, secret)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_user_changes_invalidate_too(api):
    key, secret = ApiKeyFactory(scopes=["read"])
    assert _get(api, key, secret).status_code == 200
    user = key.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = _get(api, key, secret)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"
