import time

import pyotp
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.ratelimit import redis_client
from exchange.celery import app as celery_app


@pytest.fixture(autouse=True)
def _eager_celery_and_clean_counters(settings):
    """Celery runs tasks inline (emails land in mail.outbox); lock-out and rate-limit
    counters start empty."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    client = redis_client()
    for pattern in ("lockout:*", "ratelimit:*"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)
    yield
    celery_app.conf.task_always_eager = previous


def totp_next_code(secret_b32: str, user) -> str:
    """The code an authenticator shows for the next step django-otp will accept: a code
    is accepted once, so consecutive verifications use consecutive time steps (within the
    device's tolerance and drift)."""
    device = TOTPDevice.objects.filter(user=user).order_by("-pk").first()
    now_step = int(time.time()) // 30
    step = max(now_step, (device.last_t + 1) if device is not None else now_step)
    return pyotp.TOTP(secret_b32).at(step * 30)
