"""Test helpers: funding through the ledger, 2FA backup codes, open orders with holds."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from wallets.models import WithdrawalAddress
from wallets.services import adjustment_post
from wallets.services.balances import balance_reserve
from wallets.tests.factories import UserFactory

ADDRESS = "simdestaddress0000000001"


def fund(user, asset, amount) -> None:
    staff = UserFactory(is_staff=True)
    adjustment_post(user=user, asset=asset, amount=Decimal(amount), reason="test funding",
                    staff_user=staff)


def backup_codes(user, n: int) -> list[str]:
    device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    codes = [f"code{i:06d}" for i in range(n)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def usable_address(user, asset, address: str = ADDRESS) -> WithdrawalAddress:
    return WithdrawalAddress.objects.create(
        user=user, asset=asset, address=address,
        usable_after=timezone.now() - timedelta(seconds=1))


def order_with_hold(*, user, market, asset, amount: Decimal, side: str = "SELL"):
    """An open order whose reservation is booked (what order_place does)."""
    from orders.models import Order

    with transaction.atomic():
        order = Order.objects.create(
            user=user, market=market, client_order_id=f"t-{timezone.now().timestamp()}-"
            f"{threading.get_ident()}", side=side, type="LIMIT", price=Decimal("1"),
            quantity=amount, reserved_asset=asset, reserved_amount=amount,
            reserve_remaining=amount)
        balance_reserve(user_id=user.id, asset_id=asset.id, amount=amount,
                        ref=f"order:{order.id}")
    return order


def run_concurrently(functions, workers: int = 50) -> list:
    """Runs the callables at once (a barrier releases them together); returns each one's
    result or the exception it raised. Each thread closes its own DB connection."""
    barrier = threading.Barrier(min(workers, len(functions)))

    def call(fn):
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=30)
            return fn()
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, functions))
