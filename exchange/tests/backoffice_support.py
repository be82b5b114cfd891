"""Fixtures for the back-office tests: staff of each role logged in with a verified
second factor (the session carries the confirmed TOTP device, as ``django_otp.login``
leaves it), markets and assets with unique symbols."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from django.contrib.auth.models import Group
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from marketdata.models import Market
from wallets.models import Asset

_seq = itertools.count()


def make_user(**fields) -> User:
    n = next(_seq)
    fields.setdefault("email", f"bo-{uuid.uuid4().hex[:8]}-{n}@example.com")
    fields.setdefault("email_verified", True)
    fields.setdefault("kyc_tier", 1)
    return User.objects.create_user(password="pw-123456789", **fields)


def make_staff(role: str | None = None, *, superuser: bool = False) -> User:
    user = make_user(is_staff=True, is_superuser=superuser)
    if role:
        group = Group.objects.filter(name=role).first()
        if group is None:
            # A flush without post_migrate (another session's transactional test on the
            # shared test database) removed the migration's groups: rebuild them.
            from exchange.backoffice.roles import roles_sync

            roles_sync()
            group = Group.objects.get(name=role)
        user.groups.add(group)
    return user


def otp_client(user: User, *, verified: bool = True) -> Client:
    """A logged-in client; with ``verified`` the session holds a confirmed TOTP device."""
    client = Client()
    client.force_login(user)
    if verified:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def make_asset(symbol: str | None = None, precision: int = 8) -> Asset:
    symbol = symbol or f"A{uuid.uuid4().hex[:6].upper()}"
    asset, _ = Asset.objects.get_or_create(symbol=symbol, defaults={"name": symbol,
                                                                    "precision": precision})
    return asset


def make_market(**overrides) -> Market:
    base = make_asset()
    quote = make_asset("USDT", 6)
    fields = {"symbol": f"{base.symbol}-USDT", "base": base, "quote": quote,
              "tick_size": Decimal("0.01"), "step_size": Decimal("0.001"),
              "min_qty": Decimal("0.001"), "max_qty": Decimal("1000"),
              "min_notional": Decimal("1")}
    fields.update(overrides)
    return Market.objects.create(**fields)
