"""``manage.py reconcile``: checks the books, stores the run, exits 1 on any difference."""

import json
import sys

from django.core.management.base import BaseCommand

from wallets.reconciliation import reconciliation_run


class Command(BaseCommand):
    help = "Reconcile the ledger, balances and holds; exit status 1 if anything differs."

    def handle(self, *args, **options):
        run = reconciliation_run()
        for difference in run.differences:
            self.stdout.write(json.dumps(difference))
        self.stdout.write(f"reconciliation {'ok' if run.ok else 'FAILED'}: "
                          f"{run.difference_count} difference(s)")
        if not run.ok:
            sys.exit(1)
