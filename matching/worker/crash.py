"""Test-only fault injection: ``BOURSE_MATCHER_CRASH_AT=after_read|in_commit|after_commit``
makes the worker ``os._exit(137)`` (what ``kill -9`` looks like) at that point of the
``BOURSE_MATCHER_CRASH_BATCH``-th non-empty batch (default 1). Unset in production."""

import os
import sys

_POINT = os.environ.get("BOURSE_MATCHER_CRASH_AT", "")
_BATCH = int(os.environ.get("BOURSE_MATCHER_CRASH_BATCH", "1"))
_seen = {"after_read": 0, "in_commit": 0, "after_commit": 0}


def crash_point(name: str) -> None:
    if name != _POINT:
        return
    _seen[name] += 1
    if _seen[name] >= _BATCH:
        sys.stderr.write(f"matcher: injected crash at {name}\n")
        sys.stderr.flush()
        os._exit(137)
