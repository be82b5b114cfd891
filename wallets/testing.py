"""Test helper for every app: ``assert_books_clean()`` after any scenario that moves money."""

from wallets.reconciliation import reconcile


def assert_books_clean() -> None:
    """Fails with every difference listed unless the books reconcile (see
    ``wallets.reconciliation`` for the checks, including locked == open orders' reserves
    + pending withdrawal holds)."""
    report = reconcile()
    assert report.ok, "books are not clean:\n" + str(report)
