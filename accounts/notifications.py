"""Emails leave the process only after the transaction that justified them commits."""

from __future__ import annotations

from django.db import transaction


def email_on_commit(*, to: str, subject: str, body: str) -> None:
    """Queues the email on Celery once the current transaction commits (immediately when
    no transaction is open)."""
    from accounts.tasks import email_send

    transaction.on_commit(lambda: email_send.delay(to=to, subject=subject, body=body))
