"""Random money movements against the real Postgres, checked after every step.

A Hypothesis ``RuleBasedStateMachine`` drives the wallet services the way the rest of
the exchange does — deposits from the simulated chain, order reservations and releases,
settlement batches from the matcher (fills with fees, price-improvement releases, ends
of orders), withdrawals with their approvals, payouts and cancellations — and keeps a
model of every user's available/locked amounts. After each step the reconciliation must
be clean (ledger sums, balance = recomputation, no negatives, locked = open orders +
pending withdrawals) and every balance row must equal the model.
"""

from decimal import ROUND_DOWN, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from exchange.api import ServiceError
from wallets.fees import fee_compute
from wallets.models import Balance, Withdrawal
from wallets.reconciliation import reconcile
from wallets.services import (
    balance_release,
    chain_deposit_simulate,
    deposits_confirmations_advance,
    trades_settle,
    withdrawal_approve,
    withdrawal_cancel,
    withdrawal_payout,
    withdrawal_reject,
    withdrawal_request,
)
from wallets.services import withdrawals as withdrawals_module
from wallets.settlement import SettlementFill, SettlementRelease
from wallets.tests.factories import UserFactory
from wallets.tests.helpers import ADDRESS, backup_codes, order_with_hold, usable_address

D = Decimal
ZERO = D(0)
RATE = D("0.001")
pytestmark = pytest.mark.django_db(transaction=True)

amounts = st.integers(min_value=1, max_value=40_000)       # × 10^-4 of the asset
fractions = st.integers(min_value=1, max_value=100)        # percent
picks = st.integers(min_value=0, max_value=10**6)          # index into a list


def _quantize(value: Decimal, precision: int) -> Decimal:
    return value.quantize(D(1).scaleb(-precision), rounding=ROUND_DOWN)


def make_machine(*, btc, usdt, market):
    assets = {"BTC": btc, "USDT": usdt}
    trade_ids = iter(range(10**9, 2 * 10**9))

    class WalletMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.users = [UserFactory() for _ in range(3)]
            self.staff = [UserFactory(is_staff=True) for _ in range(2)]
            self.codes = {}
            for user in self.users:
                for asset in assets.values():
                    usable_address(user, asset)
                self.codes[user.id] = iter(backup_codes(user, 60))
            # (user_id, asset_id) -> [available, locked]
            self.model = {(u.id, a.id): [D(0), D(0)] for u in self.users
                          for a in assets.values()}
            self.orders = []         # open orders: Order instances
            self.withdrawals = []    # pending: Withdrawal instances
            self.approvals = {}      # withdrawal id -> staff ids who approved

        # --- helpers -------------------------------------------------------------
        def _pick(self, items, i):
            return items[i % len(items)]

        def _move(self, user_id, asset_id, d_available=ZERO, d_locked=ZERO):
            row = self.model[(user_id, asset_id)]
            row[0] += d_available
            row[1] += d_locked

        # --- rules ---------------------------------------------------------------
        @initialize()
        def fund_and_open_orders(self):
            """Every user starts with deposits and one open order on each side, so that
            settlements can happen from the first step."""
            for i in range(len(self.users)):
                self.deposit(i, "BTC", 50_000)    # 5 BTC
                self.deposit(i, "USDT", 40_000)   # 400 USDT
                self.place_order(i, "BUY", 50)
                self.place_order(i, "SELL", 50)

        @rule(u=picks, symbol=st.sampled_from(["BTC", "USDT"]), amount=amounts)
        def deposit(self, u, symbol, amount):
            user, asset = self._pick(self.users, u), assets[symbol]
            value = D(amount).scaleb(-2 if symbol == "USDT" else -4)
            chain_deposit_simulate(user=user, asset=asset, amount=value)
            for _ in range(asset.confirmations_required):
                deposits_confirmations_advance()
            self._move(user.id, asset.id, value)

        @rule(u=picks, side=st.sampled_from(["BUY", "SELL"]), pct=fractions)
        def place_order(self, u, side, pct):
            user = self._pick(self.users, u)
            asset = usdt if side == "BUY" else btc
            available = self.model[(user.id, asset.id)][0]
            amount = _quantize(available * pct / 100, asset.precision)
            if amount <= 0:
                return
            if pct == 100:  # one unit too much: refused, nothing changes
                with pytest.raises(ServiceError) as err:
                    order_with_hold(user=user, market=market, asset=asset,
                                    amount=amount + asset.quantum, side=side)
                assert err.value.code == "insufficient_balance"
                return
            order = order_with_hold(user=user, market=market, asset=asset, amount=amount,
                                    side=side)
            self.orders.append(order)
            self._move(user.id, asset.id, -amount, amount)

        @precondition(lambda self: self.orders)
        @rule(o=picks, pct=fractions)
        def release(self, o, pct):
            """The order is (partly) cancelled: part of its hold goes back."""
            order = self._pick(self.orders, o)
            asset = order.reserved_asset
            amount = _quantize(order.reserve_remaining * pct / 100, asset.precision)
            if amount <= 0:
                return
            with transaction.atomic():
                balance_release(user_id=order.user_id, asset_id=asset.id, amount=amount,
                                ref=f"order:{order.id}")
                self._order_consume(order, amount)
            self._move(order.user_id, asset.id, amount, -amount)

        def _order_consume(self, order, amount):
            order.reserve_remaining -= amount
            if order.reserve_remaining == 0:
                order.status = "CANCELLED" if order.filled_quantity == 0 else "FILLED"
                self.orders.remove(order)
            else:
                order.status = ("PARTIALLY_FILLED" if order.filled_quantity else
                                order.status)
            order.save(update_fields=["reserve_remaining", "status", "filled_quantity"])

        @precondition(lambda self: len(self.orders) >= 2)
        @rule(b=picks, s=picks, pct=fractions, price=st.sampled_from(["0.5", "1", "3"]),
              end_buy=st.booleans(), end_sell=st.booleans())
        def settle(self, b, s, pct, price, end_buy, end_sell):
            """A matcher batch: one fill between a buy and a sell order, fees in the
            received assets, the buyer's price improvement and ends of orders released."""
            buys = [o for o in self.orders if o.side == "BUY"]
            sells = [o for o in self.orders if o.side == "SELL"]
            if not buys or not sells:
                return
            buy, sell = self._pick(buys, b), self._pick(sells, s)
            base_qty = _quantize(sell.reserve_remaining * pct / 100, btc.precision)
            quote_qty = _quantize(base_qty * D(price), usdt.precision)
            if quote_qty > buy.reserve_remaining:
                quote_qty = buy.reserve_remaining
                base_qty = _quantize(quote_qty / D(price), btc.precision)
                quote_qty = _quantize(base_qty * D(price), usdt.precision)
            if base_qty <= 0 or quote_qty <= 0:
                return
            fill = SettlementFill(
                trade_id=next(trade_ids), buyer_id=buy.user_id, seller_id=sell.user_id,
                base_asset_id=btc.id, quote_asset_id=usdt.id, base_qty=base_qty,
                quote_qty=quote_qty,
                buyer_fee=fee_compute(amount=base_qty, rate=RATE, precision=btc.precision),
                seller_fee=fee_compute(amount=quote_qty, rate=RATE,
                                       precision=usdt.precision))
            releases = []
            buy_rest = buy.reserve_remaining - quote_qty
            sell_rest = sell.reserve_remaining - base_qty
            if end_buy and buy_rest > 0:
                releases.append(SettlementRelease(user_id=buy.user_id, asset_id=usdt.id,
                                                  amount=buy_rest, order_id=buy.id))
            if end_sell and sell_rest > 0:
                releases.append(SettlementRelease(user_id=sell.user_id, asset_id=btc.id,
                                                  amount=sell_rest, order_id=sell.id))
            with transaction.atomic():
                trades_settle(fills=[fill], releases=releases)
                buy.filled_quantity += base_qty
                sell.filled_quantity += base_qty
                self._order_consume(buy, quote_qty + (buy_rest if end_buy else 0))
                self._order_consume(sell, base_qty + (sell_rest if end_sell else 0))
            self._move(buy.user_id, usdt.id, d_locked=-quote_qty)
            self._move(buy.user_id, btc.id, base_qty - fill.buyer_fee)
            self._move(sell.user_id, btc.id, d_locked=-base_qty)
            self._move(sell.user_id, usdt.id, quote_qty - fill.seller_fee)
            for r in releases:
                self._move(r.user_id, r.asset_id, r.amount, -r.amount)

        @rule(u=picks, symbol=st.sampled_from(["BTC", "USDT"]), pct=fractions)
        def withdraw(self, u, symbol, pct):
            user, asset = self._pick(self.users, u), assets[symbol]
            available = self.model[(user.id, asset.id)][0]
            amount = max(_quantize(available * pct / 100, asset.precision) - asset.withdrawal_fee,
                         asset.min_withdrawal)
            code = next(self.codes[user.id])
            if amount + asset.withdrawal_fee > available:
                with pytest.raises(ServiceError) as err:
                    withdrawal_request(user=user, asset=asset, address=ADDRESS,
                                       amount=amount, otp_code=code)
                assert err.value.code == "insufficient_balance"
                return
            withdrawal = withdrawal_request(user=user, asset=asset, address=ADDRESS,
                                            amount=amount, otp_code=code)
            self.withdrawals.append(withdrawal)
            self._move(user.id, asset.id, -withdrawal.hold, withdrawal.hold)

        @precondition(lambda self: self.withdrawals)
        @rule(w=picks)
        def payout(self, w):
            withdrawal = self._pick(self.withdrawals, w)
            result = withdrawal_payout(withdrawal_id=withdrawal.id)
            withdrawal.refresh_from_db()
            if result is None:  # still waiting for staff approval
                assert withdrawal.status == Withdrawal.Status.REQUESTED
                assert withdrawal.approvals_required > 0
                return
            assert withdrawal.status == Withdrawal.Status.COMPLETED
            self.withdrawals.remove(withdrawal)
            self._move(withdrawal.user_id, withdrawal.asset_id, d_locked=-withdrawal.hold)

        @precondition(lambda self: self.withdrawals)
        @rule(w=picks, staff=picks)
        def approve(self, w, staff):
            withdrawal = self._pick(self.withdrawals, w)
            approver = self._pick(self.staff, staff)
            approvers = self.approvals.setdefault(withdrawal.id, set())
            if (withdrawal.approvals_required == 0
                    or len(approvers) >= withdrawal.approvals_required):
                expected = "invalid_state"
            elif approver.id in approvers:
                expected = "already_approved"
            else:
                withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=approver)
                approvers.add(approver.id)
                return
            with pytest.raises(ServiceError) as err:
                withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=approver)
            assert err.value.code == expected

        @precondition(lambda self: self.withdrawals)
        @rule(w=picks, by_staff=st.booleans())
        def cancel_or_reject(self, w, by_staff):
            withdrawal = self._pick(self.withdrawals, w)
            if by_staff:
                withdrawal_reject(withdrawal_id=withdrawal.id, staff_user=self.staff[0],
                                  reason="state machine")
            else:
                withdrawal_cancel(user=withdrawal.user, withdrawal_id=withdrawal.id)
            self.withdrawals.remove(withdrawal)
            self._move(withdrawal.user_id, withdrawal.asset_id, withdrawal.hold,
                       -withdrawal.hold)

        # --- invariants ----------------------------------------------------------
        @invariant()
        def books_reconcile(self):
            report = reconcile()
            assert report.ok, str(report)

        @invariant()
        def balances_match_the_model_and_are_never_negative(self):
            rows = Balance.objects.filter(user__in=self.users)
            actual = {(r.user_id, r.asset_id): [r.available, r.locked] for r in rows}
            for key, (available, locked) in self.model.items():
                assert available >= 0 and locked >= 0, (key, available, locked)
                assert actual.get(key, [D(0), D(0)]) == [available, locked], key

    return WalletMachine


def test_random_operations_keep_the_books_clean(btc, usdt, market, monkeypatch):
    # payouts happen only when the machine says so (no Celery task after commit)
    monkeypatch.setattr(withdrawals_module, "_payout_on_commit", lambda _id: None)
    machine = make_machine(btc=btc, usdt=usdt, market=market)
    machine.TestCase.settings = settings(
        max_examples=12, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    machine.TestCase().runTest()
