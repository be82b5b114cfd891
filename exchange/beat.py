"""Celery beat schedule: one entry per periodic job, each a thin task calling a service."""

BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {"task": "exchange.tasks.beat_heartbeat", "schedule": 30.0},
}
