"""Wallet emails, always after commit, through one helper (accounts' Celery mailer)."""

from __future__ import annotations


def wallet_email_on_commit(*, user, subject: str, body: str) -> None:
    """Queues an email to ``user`` once the current transaction commits (accounts' mailer
    adds the "[Bourse]" subject prefix)."""
    from accounts.notifications import email_on_commit

    email_on_commit(to=user.email, subject=subject, body=body)


def task_on_commit(task, *args) -> None:
    """``task.delay(*args)`` once the current transaction commits (never before: a worker
    must not see a row that a rollback could still undo)."""
    from django.db import transaction

    transaction.on_commit(lambda: task.delay(*args))
