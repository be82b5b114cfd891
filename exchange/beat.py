"""Celery beat schedule: one entry per periodic job, each a thin task calling a service."""

BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {"task": "exchange.tasks.beat_heartbeat", "schedule": 30.0},
    "wallets-deposits-advance": {
        "task": "wallets.tasks.deposits_confirmations_advance_task", "schedule": 10.0},
    "wallets-withdrawals-sweep": {
        "task": "wallets.tasks.withdrawals_payout_sweep_task", "schedule": 60.0},
    "wallets-reconcile": {"task": "wallets.tasks.reconciliation_run_task", "schedule": 300.0},
}
