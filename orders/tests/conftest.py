from matching.worker_tests.conftest import django_db_modify_db_settings, redis_url  # noqa: F401
