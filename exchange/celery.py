"""The Celery app. Tasks live in each app's ``tasks.py``; periodic jobs are listed here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")

app = Celery("bourse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs: each app registers its own in BEAT_SCHEDULE via exchange/beat.py.
from exchange.beat import BEAT_SCHEDULE  # noqa: E402

app.conf.beat_schedule = BEAT_SCHEDULE
