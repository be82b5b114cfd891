"""``manage.py run_matcher [--markets BTC-USDT ...]``: the matcher worker (docs/ORDERS.md)."""

import logging

from django.core.management.base import BaseCommand

from matching.worker.runner import Matcher


class Command(BaseCommand):
    help = "Run the matcher for the given markets (all markets by default)."

    def add_arguments(self, parser):
        parser.add_argument("--markets", nargs="*", default=None)
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--block-ms", type=int, default=100)
        parser.add_argument("--depth-levels", type=int, default=1000,
                            help="levels per side in the published depth snapshot")
        parser.add_argument("--lease-ms", type=int, default=10_000)
        parser.add_argument("--metrics-port", type=int, default=0,
                            help="serve Prometheus metrics on 127.0.0.1:PORT (0 = off)")
        parser.add_argument("--no-publish", action="store_true")
        parser.add_argument("--stats-file", default=None,
                            help="append one JSON line per committed batch (benchmarks)")
        parser.add_argument("--exit-when-idle", action="store_true",
                            help="exit once every owned stream is drained (benchmarks, tests)")
        parser.add_argument("--no-pipeline", action="store_true",
                            help="commit each batch before matching the next (no commit thread)")

    def handle(self, *args, **options):
        logging.getLogger("matching.worker").setLevel(logging.INFO)
        if options["metrics_port"]:
            from prometheus_client import start_http_server

            start_http_server(options["metrics_port"], addr="127.0.0.1")
        matcher = Matcher(
            markets=options["markets"], batch_size=options["batch_size"],
            block_ms=options["block_ms"], depth_levels=options["depth_levels"],
            publish=not options["no_publish"], lease_ms=options["lease_ms"],
            exit_when_idle=options["exit_when_idle"], stats_file=options["stats_file"],
            pipeline=not options["no_pipeline"],
        )
        matcher.install_signals()
        raise SystemExit(matcher.run())
