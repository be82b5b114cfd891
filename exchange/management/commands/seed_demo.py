"""Idempotent demo data: assets, markets, a staff user and two funded traders."""

from django.core.management.base import BaseCommand

from exchange.demo import DEMO_LOGINS, seed_demo


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo assets, markets and users. Idempotent."

    def handle(self, *args, **options):
        seed_demo()
        self.stdout.write("Demo logins:")
        for role, email, password in DEMO_LOGINS:
            self.stdout.write(f"  {role:<8} {email} / {password}")
