"""Bourse settings: one module, driven by the environment (django-environ).

Production differs from development only in its environment. With ``DEBUG`` off the
process refuses to start unless ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL``
are given. With ``DATABASE_URL`` / ``REDIS_URL`` unset, the embedded servers of
``exchange.devservices`` are used (see README).
"""

import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from exchange import devservices

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DEBUG = env.bool("DEBUG", default=False)
# Under pytest the test settings apply (fast hasher, no HTTPS redirect) without extra env.
TESTING = env.bool("BOURSE_TESTING", default="pytest" in sys.modules)

if not DEBUG and not TESTING:
    required = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL")
    missing = [name for name in required if not env(name, default="")]
    if missing:
        raise ImproperlyConfigured(
            f"DEBUG is off: set {', '.join(missing)} in the environment (see README)."
        )

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-secret-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"]
)

_urls = devservices.service_urls()
DATABASE_URL = _urls.database_url
REDIS_URL = _urls.redis_url

INSTALLED_APPS = [
    "daphne",
    "accounts.admin_config.BourseAdminConfig",  # django.contrib.admin with the 2FA-only site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "exchange",
    "accounts",
    "wallets",
    "marketdata",
    "orders",
    "matching",
]

MIDDLEWARE = [
    "exchange.middleware.MetricsMiddleware",
    "accounts.middleware.ApiWeightMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exchange.urls"
WSGI_APPLICATION = "exchange.wsgi.application"
ASGI_APPLICATION = "exchange.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# ASGI runs each request in a thread from a pool; persistent connections are reused per
# thread and health-checked, so they neither leak nor go stale under load.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Outside tests: a psycopg 3 connection pool per process (Django 5.1+). Under ASGI every
# request runs its sync view in a fresh thread, so per-thread persistent connections
# piled up until Postgres said "too many clients"; pooled connections go back to the pool
# at the end of each request and a process never holds more than DB_POOL_MAX_SIZE
# (keep processes x max_size well under the server's max_connections, 200 embedded).
# Pooling requires CONN_MAX_AGE = 0. DB_POOL_MAX_SIZE=0 turns it off.
if not TESTING and env.int("DB_POOL_MAX_SIZE", default=16) > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=16),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is deliberately slow; tests create many users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Private uploads (KYC documents) live outside static and are served only by views
# that check permissions.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private")))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict = {}  # apps add their periodic jobs in exchange/celery.py

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Bourse <no-reply@bourse.local>")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.SignedRequestAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.ScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.ratelimit.ApiKeyWeightThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "exchange.api.exception_handler",
    # Amounts are decimal strings on the wire; JSON numbers are parsed as Decimal.
    "COERCE_DECIMAL_TO_STRING": True,
    "DEFAULT_PARSER_CLASSES": [
        "exchange.api.DecimalJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bourse API",
    "DESCRIPTION": "REST API of the Bourse spot exchange. Amounts are decimal strings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several components have a "status" field with different choices: name them.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.api.schemas.STATUSES",
        "LoginStatusEnum": "accounts.api.schemas.LOGIN_STATUSES",
        "SideEnum": "orders.api.schemas.SIDES",
    },
}

# Encryption key for API-key secrets at rest (Fernet, derived from SECRET_KEY if unset).
API_KEY_ENCRYPTION_KEY = env("API_KEY_ENCRYPTION_KEY", default="")

# --- accounts: KYC tiers, lock-out, API rate limits (see docs/ACCOUNTS.md) ---
# What each KYC tier may do. Daily withdrawal limits are per asset symbol, in that asset;
# "*" applies to assets not listed; None means unlimited, "0" means may not withdraw.
KYC_TIERS = {
    0: {"can_trade": False, "daily_withdrawal_limits": {"*": "0"}},
    1: {
        "can_trade": True,
        "daily_withdrawal_limits": {"BTC": "2", "ETH": "30", "USDT": "50000", "*": "50000"},
    },
    2: {
        "can_trade": True,
        "daily_withdrawal_limits": {
            "BTC": "100", "ETH": "1500", "USDT": "2000000", "*": "2000000"
        },
    },
}
KYC_UPLOAD_MAX_BYTES = env.int("KYC_UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)
# Failed logins and failed second-factor codes, counted in Redis per account and per IP.
LOGIN_LOCKOUT = {
    "ACCOUNT_FAILURES": env.int("LOCKOUT_ACCOUNT_FAILURES", default=5),
    "IP_FAILURES": env.int("LOCKOUT_IP_FAILURES", default=50),
    "WINDOW_SECONDS": env.int("LOCKOUT_WINDOW_SECONDS", default=900),
    "LOCKOUT_SECONDS": env.int("LOCKOUT_SECONDS", default=900),
}
# Request weight per minute (fixed one-minute windows, as Binance counts them).
API_RATE_LIMITS = {
    # Test processes share one Redis and one client IP: they get a limit they never reach
    # (the rate-limit tests set their own).
    "IP_WEIGHT_PER_MINUTE": env.int("API_IP_WEIGHT_PER_MINUTE",
                                    default=10**9 if TESTING else 6000),
    "KEY_WEIGHT_PER_MINUTE": env.int("API_KEY_WEIGHT_PER_MINUTE",
                                     default=10**9 if TESTING else 1200),
}
# Number of reverse proxies in front of the app whose X-Forwarded-For can be trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
OTP_TOTP_ISSUER = "Bourse"
EMAIL_VERIFICATION_MAX_AGE_SECONDS = 3 * 24 * 3600

# The matcher writes a heartbeat this often; /readyz calls it down after the max age.
MATCHER_HEARTBEAT_MAX_AGE = env.float("MATCHER_HEARTBEAT_MAX_AGE", default=10.0)
# Market-data WebSockets: frames queued per connection before a slow client is closed
# with 4008, and streams per connection (docs/MARKETDATA.md).
MARKETDATA_WS_OUTBOX_LIMIT = env.int("MARKETDATA_WS_OUTBOX_LIMIT", default=2000)
MARKETDATA_WS_MAX_SUBSCRIPTIONS = env.int("MARKETDATA_WS_MAX_SUBSCRIPTIONS", default=50)
# How often a socket authenticated by listen key checks that the key still exists (it
# expires 60 min after the last keepalive, or is deleted): then its private data stops.
MARKETDATA_LISTEN_KEY_CHECK_SECONDS = env.float("MARKETDATA_LISTEN_KEY_CHECK_SECONDS",
                                                default=30.0)
READYZ_REQUIRE_MATCHER = env.bool("READYZ_REQUIRE_MATCHER", default=not TESTING)

LOG_JSON = env.bool("LOG_JSON", default=False)
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_JSON else "plain"}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not TESTING)
    SESSION_COOKIE_SECURE = not TESTING
    CSRF_COOKIE_SECURE = not TESTING
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if TESTING else 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = not TESTING
    SECURE_HSTS_PRELOAD = not TESTING
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# Wallets (see docs/WALLETS.md): address-book cool-down in seconds; withdrawal amounts
# above the first threshold (per asset symbol, "*" = default) need one staff approval,
# above the second two different staff members; optional 30-day volume fee tiers
# [(min quote volume, maker rate, taker rate), ...].
WITHDRAWAL_ADDRESS_COOLDOWN = env.int("WITHDRAWAL_ADDRESS_COOLDOWN", default=24 * 3600)
WITHDRAWAL_APPROVAL_THRESHOLD = {"BTC": "1", "ETH": "20", "USDT": "20000"}
WITHDRAWAL_DUAL_APPROVAL_THRESHOLD = {"BTC": "10", "ETH": "200", "USDT": "200000"}
FEE_TIERS: list = []
# The simulated chain's deposit button/API exist only in development.
WALLETS_SIMULATED_CHAIN = env.bool("WALLETS_SIMULATED_CHAIN", default=DEBUG)
