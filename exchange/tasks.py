from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task
def beat_heartbeat() -> str:
    """Records that beat and a worker are alive (shown on the staff dashboard)."""
    now = timezone.now().isoformat()
    cache.set("celery:heartbeat", now, timeout=None)
    return now
