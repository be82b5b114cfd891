"""Test bootstrap: real Postgres and Redis (embedded unless DATABASE_URL/REDIS_URL are
set), never mocks of our own infrastructure. ``make test`` starts the services through
``exchange.devservices``; running pytest directly starts them too."""

import os

os.environ.setdefault("BOURSE_TESTING", "1")

from exchange import devservices

if devservices.embedded():
    devservices.up()
