"""``manage.py simulate_deposit --email a@b --asset BTC --amount 0.5 [--txid ..] [--credit]``:
the simulated chain sees an incoming transaction (credited by the beat job once the
asset's confirmations are reached, or at once with ``--credit``)."""

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from exchange.api import ServiceError
from wallets.models import Asset
from wallets.services import chain_deposit_simulate
from wallets.services.deposits import deposits_confirmations_advance


class Command(BaseCommand):
    help = "Simulate an incoming chain transaction to a user's deposit address."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--asset", required=True)
        parser.add_argument("--amount", required=True)
        parser.add_argument("--txid", default=None)
        parser.add_argument("--output-index", type=int, default=0)
        parser.add_argument("--credit", action="store_true",
                            help="mine blocks until it is credited")

    def handle(self, *args, email, asset, amount, txid, output_index, credit, **options):
        user = User.objects.filter(email=email.lower()).first()
        asset_obj = Asset.objects.filter(symbol=asset.upper()).first()
        if user is None or asset_obj is None:
            raise CommandError("unknown user or asset")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise CommandError("amount must be a decimal") from None
        try:
            deposit = chain_deposit_simulate(user=user, asset=asset_obj, amount=value,
                                             txid=txid, output_index=output_index)
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        if credit:
            for _ in range(asset_obj.confirmations_required):
                deposits_confirmations_advance()
            deposit.refresh_from_db()
        self.stdout.write(f"deposit {deposit.txid}:{deposit.output_index} {deposit.amount} "
                          f"{asset_obj.symbol} {deposit.status}")
