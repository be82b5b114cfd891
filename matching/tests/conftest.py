"""matching/tests run without Django (``-p no:django``) and must never touch the database.

The project's pytest ``addopts`` pass ``--reuse-db``, an option that only exists when
pytest-django is loaded; accept it here so that the shared configuration does not stop
these tests from running on their own.
"""

import contextlib


def pytest_addoption(parser):
    with contextlib.suppress(ValueError):  # pytest-django is loaded and owns the option
        parser.addoption("--reuse-db", action="store_true",
                         help="ignored: accepted for the project's addopts without Django")
