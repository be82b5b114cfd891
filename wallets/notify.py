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


def balance_delta_publish_on_commit(*, user_id: int, asset: str, delta) -> None:
    """Once the current transaction commits, tells the user's data streams that their
    available ``asset`` balance changed by ``delta`` outside trading (deposit credited,
    withdrawal held or released): Binance's ``balanceUpdate``. Best effort: the ledger is
    the truth, a lost notification is logged, never raised into the committed request."""
    import logging
    import time

    import redis
    from django.db import transaction

    def publish():
        from marketdata.publishing import publish_private

        try:
            publish_private(events=[{"user_id": user_id, "type": "balance_delta",
                                     "asset": asset, "delta": format(delta, "f"),
                                     "time": int(time.time() * 1000)}])
        except redis.RedisError:
            logging.getLogger(__name__).warning("balance update not published",
                                                exc_info=True)

    transaction.on_commit(publish)
