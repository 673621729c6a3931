"""Django settings for every computecloud control-plane process.

One module, driven by the environment (django-environ). `.env` in the project root is read
if present; `scripts/setup.sh` writes it with generated secrets, and `.env.example` documents
every variable. Secrets and service URLs have no defaults: a process without them fails at
start instead of running with something insecure. Domain knobs live in the `COMPUTECLOUD`
dict, read through `computecloud.conf.cc_settings`.
"""

from pathlib import Path

import environ

from computecloud import broker, queues

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- secrets and services: required, no defaults -------------------------------------------
SECRET_KEY = env.str("SECRET_KEY")
DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# redis://:PASSWORD@host:6379/0; rediss:// for TLS, verified against REDIS_TLS_CA, with an
# optional client certificate (computecloud/broker.py). Broker, results and cache alike.
REDIS_URL = env.str("REDIS_URL")
REDIS_TLS = broker.RedisTLS(
    ca=env.str("REDIS_TLS_CA", default=""),
    cert=env.str("REDIS_TLS_CERT", default=""),
    key=env.str("REDIS_TLS_KEY", default=""),
)

# Shared cache (failed-login throttling, short-lived lookups); Redis, a separate db number.
_cache_url = env.str("CACHE_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/1")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _cache_url,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cc"),
        "OPTIONS": broker.ssl_options(_cache_url, REDIS_TLS) or {},
    }
}

# --- Django core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The URL clients reach the API at; it is what the service catalog and version links say.
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The admin site, with the operators-only gate (apps/identity/adminsite.py).
    "apps.identity.adminconfig.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from STATIC_URL
    "apps.identity",
    "apps.quotas",
    "apps.keypairs",
    "apps.flavors",
    "apps.images",
    "apps.hosts",
    "apps.networks",
    "apps.volumes",
    "apps.placement",
    "apps.scheduler",
    "apps.servers",
    "apps.conductor",
    "apps.consoles",
    "apps.metadata",
    "apps.dashboard",
    "apps.operations",
]

MIDDLEWARE = [
    "computecloud.middleware.RequestIdMiddleware",
    # Times each request by URL route for /metrics (computecloud/metrics_web.py).
    "computecloud.metrics_web.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (Swagger UI, the admin's and the browsable API's) from the web process.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "computecloud.urls"
WSGI_APPLICATION = "computecloud.wsgi.application"
AUTH_USER_MODEL = "identity.User"
# Sign-in pages check passwords through the identity service, throttled like token requests.
AUTHENTICATION_BACKENDS = ["apps.identity.backends.PasswordBackend"]
# The dashboard's sign-in page; the admin and the browsable API have their own.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
# Cookies: never readable by scripts, never sent on another site's forms. Pages hand the CSRF
# token to htmx in a header from the template, so no script needs the cookie.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# POST bodies cannot follow a redirect: /v3/auth/tokens and /servers must match as sent.
APPEND_SLASH = False

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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# The dashboard's front-end packages, from the npm registry (package.json; `npm ci` in
# scripts/setup.sh): each served under static/vendor/<name>/ straight from its dist folder.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
]
# Served by WhiteNoise: what `collectstatic` gathered in STATIC_ROOT (scripts/setup.sh), and
# the apps' own files as found, so a checkout without collectstatic (tests) serves them too.
WHITENOISE_USE_FINDERS = True
# State the control plane keeps on disk (the image store lives below it).
STATE_DIR = env.path("STATE_DIR", default=BASE_DIR / "var")

# --- REST framework ---------------------------------------------------------------------------
# The largest request body read into memory, bytes: every JSON body (DRF reads them through
# request.body), so Nova's max_request_body_size. Larger is a 413 before it is read; image
# data uploads are streamed and bounded by IMAGE_SIZE_CAP instead.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_JSON_BODY_BYTES", default=114688)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.identity.authentication.KeystoneTokenAuthentication",
        "apps.identity.authentication.KeystoneSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.identity.policy.PolicyPermission"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "computecloud.api.renderers.PolicyBrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["computecloud.api.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "computecloud.api.negotiation.JSONFallbackNegotiation",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "computecloud.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "computecloud Compute API",
    "DESCRIPTION": (
        "OpenStack Compute API v2.1 compatible, with Keystone v3, Glance v2, Neutron v2.0 and "
        "Cinder v3 subsets."
    ),
    "VERSION": "2.1",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ loads Swagger UI from the project's static files (drf-spectacular-sidecar),
    # never from a CDN: it works offline and runs only the version we pinned.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Enums as components (drf-spectacular's default hook), then each service's paths as
    # clients call them (computecloud/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "computecloud.api.schema.plain_service_prefixes",
    ],
}

# --- Celery: topology in computecloud/queues.py -----------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_BROKER_USE_SSL = broker.ssl_options(CELERY_BROKER_URL, REDIS_TLS)
CELERY_REDIS_BACKEND_USE_SSL = broker.ssl_options(CELERY_RESULT_BACKEND, REDIS_TLS)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE = queues.BEAT_SCHEDULE

# --- Logging: one line per event, request id and instance on each ------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "computecloud.middleware.RequestIdLogFilter"},
        "redact_signatures": {"()": "computecloud.redaction.RedactSignatures"},
    },
    "formatters": {
        "line": {
            "()": "computecloud.logs.SingleLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["request_id", "redact_signatures"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines, through the console handler's filters (signatures).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "celery": {"level": "INFO"},
    },
}

# --- computecloud's own knobs (defaults and meanings in computecloud/conf.py) -------------------
COMPUTECLOUD = {
    "REGION": env.str("REGION", default="RegionOne"),
    "TOKEN_TTL": env.int("TOKEN_TTL", default=3600),
    "CONSOLE_TOKEN_TTL": env.int("CONSOLE_TOKEN_TTL", default=600),
    "SERVICE_DOWN_TIME": env.int("SERVICE_DOWN_TIME", default=60),
    "BUILD_TIMEOUT": env.int("BUILD_TIMEOUT", default=600),
    "RECLAIM_GRACE": env.int("RECLAIM_GRACE", default=60),
    "RESIZE_CONFIRM_WINDOW": env.int("RESIZE_CONFIRM_WINDOW", default=0),
    "CONSOLE_PROXY_URL": env.str("CONSOLE_PROXY_URL", default="http://127.0.0.1:6080"),
    "CONSOLE_ALLOWED_ORIGINS": env.list("CONSOLE_ALLOWED_ORIGINS", default=[]),
    "CONSOLE_PROXY_HOST": env.str("CONSOLE_PROXY_HOST", default="127.0.0.1"),
    "CONSOLE_PROXY_PORT": env.int("CONSOLE_PROXY_PORT", default=6080),
    "CONSOLE_PROXY_CERT": env.str("CONSOLE_PROXY_CERT", default=""),
    "CONSOLE_PROXY_KEY": env.str("CONSOLE_PROXY_KEY", default=""),
    "CONSOLE_PROXY_SSL_ONLY": env.bool("CONSOLE_PROXY_SSL_ONLY", default=False),
    "NOVNC_PATH": env.str("NOVNC_PATH", default="/usr/share/novnc"),
    "FORCE_CONFIG_DRIVE": env.bool("FORCE_CONFIG_DRIVE", default=True),
    "METADATA_HOST": env.str("METADATA_HOST", default="127.0.0.1"),
    "METADATA_PORT": env.int("METADATA_PORT", default=8775),
    "METADATA_TRUSTED_PROXIES": env.list("METADATA_TRUSTED_PROXIES", default=[]),
    "METADATA_SHARED_SECRET": env.str("METADATA_SHARED_SECRET", default=""),
    # "physnet=bridge,..." (e.g. "public=br-ex"): the bridges flat networks are carried on.
    "NETWORK_PHYSICAL_BRIDGES": env.dict("NETWORK_PHYSICAL_BRIDGES", default={"public": "br-ex"}),
    "NETWORK_GATEWAY_HOST": env.str("NETWORK_GATEWAY_HOST", default=""),
    # Who may read /metrics: these networks (reached directly), or the bearer token.
    "METRICS_ALLOWED_NETWORKS": env.list(
        "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"]
    ),
    "METRICS_TOKEN": env.str("METRICS_TOKEN", default=""),
}
