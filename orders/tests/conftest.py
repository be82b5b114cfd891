from matching.worker_tests.conftest import (  # noqa: F401
    django_db_modify_db_settings,
    redis_db_index,
    redis_url,
)
