"""Placeholder matcher loop: starts, writes a heartbeat, stops cleanly on SIGTERM/SIGINT.

Replaced by the real worker (issue: order entry and the matcher)."""

import os
import signal
import socket
import time

from django.core.management.base import BaseCommand

from exchange.health import MATCHER_HEARTBEAT_KEY, redis_client


class Command(BaseCommand):
    help = "Run the matcher for the given markets (all by default)."

    def add_arguments(self, parser):
        parser.add_argument("--markets", nargs="*", default=None)

    def handle(self, *args, **options):
        stopping = False

        def stop(signum, _frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        matcher_id = f"{socket.gethostname()}:{os.getpid()}"
        client = redis_client()
        self.stdout.write(f"matcher {matcher_id} started")
        while not stopping:
            client.hset(MATCHER_HEARTBEAT_KEY, matcher_id, time.time())
            time.sleep(1)
        client.hdel(MATCHER_HEARTBEAT_KEY, matcher_id)
        self.stdout.write(f"matcher {matcher_id} stopped")
