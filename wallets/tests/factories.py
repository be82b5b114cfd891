import itertools
from decimal import Decimal

import factory

from accounts.models import User
from wallets.models import Asset

_seq = itertools.count()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"wallet-user-{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-123456789")
    email_verified = True
    kyc_tier = 2


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"T{n}")
    name = factory.LazyAttribute(lambda o: f"Test {o.symbol}")
    precision = 8
    withdrawal_fee = Decimal("0.0001")
    min_withdrawal = Decimal("0.001")
    confirmations_required = 2
