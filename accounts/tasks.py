from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(*, to: str, subject: str, body: str) -> None:
    """Sends one plain-text email (the SMTP/console/file backend comes from settings)."""
    send_mail(f"[Bourse] {subject}", body, settings.DEFAULT_FROM_EMAIL, [to])
