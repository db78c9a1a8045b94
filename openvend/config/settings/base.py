"""Settings shared by every deployment shape. Shape-specific files import this and override."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent.parent
PROJECT_DIR = PACKAGE_DIR.parent
VAR_DIR = PROJECT_DIR / "var"

DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    # unfold must precede django.contrib.admin so its templates win.
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "openvend.core",
    "openvend.merchants",
    "openvend.accounts",
    "openvend.audit",
    "openvend.devices",
    "openvend.catalog",
    "openvend.inventory",
    "openvend.consumers",
    "openvend.payments",
    "openvend.shopping",
    "openvend.orders",
    "import_export",
    "openvend.consoles",
    "openvend.mobile",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "openvend.accounts.middleware.ActiveAccountMiddleware",
    "openvend.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "openvend.audit.middleware.AuditContextMiddleware",
    # axes must be last so it sees the final response of a failed login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "openvend.config.urls"
WSGI_APPLICATION = "openvend.config.wsgi.application"
ASGI_APPLICATION = "openvend.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # axes first: it refuses locked-out credentials before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "openvend.accounts.backends.RoleBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/console/login/"

# Lockout after repeated failed logins, counted per username so an attacker cannot
# dodge it by changing address; an administrator or the cool-off releases it.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "openvend.accounts.lockout.lockout_response"
AXES_VERBOSE = False
# Locking by username alone is deliberate: whole shops and offices share one address behind NAT,
# and an IP lock would shut all their staff out after one person's typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "openvend.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["openvend.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "openvend.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "openvend.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenVend API",
    "DESCRIPTION": "REST API of the OpenVend unattended-retail platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: consoles must work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MerchantStatusEnum": "openvend.merchants.choices.MerchantStatus",
        "DataScopeEnum": "openvend.accounts.choices.DataScope",
        "LanguageEnum": "openvend.core.choices.Language",
        "DeviceTypeEnum": "openvend.devices.choices.DeviceType",
        "ProductKindEnum": "openvend.catalog.choices.ProductKind",
        "ProductStatusEnum": "openvend.catalog.choices.ProductStatus",
        "ApplicationStatusEnum": "openvend.catalog.choices.ApplicationStatus",
        "PriceScopeEnum": "openvend.catalog.choices.PriceScope",
        "PriceStatusEnum": "openvend.catalog.choices.PriceStatus",
        "PlanogramStatusEnum": "openvend.inventory.choices.PlanogramStatus",
        "MovementKindEnum": "openvend.inventory.choices.MovementKind",
        "ReplenishmentStateEnum": "openvend.inventory.choices.ReplenishmentState",
        "RestockStateEnum": "openvend.inventory.choices.RestockState",
        "StockTakeStateEnum": "openvend.inventory.choices.StockTakeState",
        "PaymentStateEnum": "openvend.payments.choices.PaymentState",
        "RefundStateEnum": "openvend.payments.choices.RefundState",
        "PaymentMethodEnum": "openvend.payments.choices.PaymentMethod",
        "ShoppingFlowEnum": "openvend.devices.choices.ShoppingFlow",
        "SessionStateEnum": "openvend.shopping.choices.SessionState",
        "OrderStateEnum": "openvend.orders.choices.OrderState",
        "AppealStateEnum": "openvend.orders.choices.AppealState",
        "CorrectionStateEnum": "openvend.orders.choices.CorrectionState",
    },
}

API_TOKEN_TTL_HOURS = 24 * 7

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# The device broker. Empty MQTT_URL means the embedded amqtt broker that `openvend demo` starts.
MQTT_URL = ""
REDIS_URL = ""
# The gateway's own broker account; devices get theirs at activation.
MQTT_GATEWAY_USERNAME = "openvend-gateway"
MQTT_GATEWAY_PASSWORD = ""
# How several gateway processes split the device traffic: "partitioned" (each owns a share of the
# devices and sees all their messages, in order) or "shared" (a shared subscription, message by message).
MQTT_GATEWAY_ROUTING = "partitioned"
# Shared-subscription group, when the routing is "shared".
MQTT_SHARED_GROUP = "openvend-gateway"
# When set, device credentials are written to these Mosquitto files (and the broker is sent SIGHUP).
MOSQUITTO_PASSWORD_FILE = ""
MOSQUITTO_ACL_FILE = ""
MOSQUITTO_PID_FILE = ""
# Raw device messages are kept this many days, then pruned by the gateway.
DEVICE_MESSAGE_RETENTION_DAYS = 30
# A free-replenishment visit still open after this long is cancelled so the device can sell again.
RESTOCK_SESSION_TIMEOUT_MIN = 30

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    # httpx logs every request URL at INFO; OAuth token calls carry the AppSecret in theirs.
    "loggers": {
        "axes": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

from openvend.consoles.unfold_config import MERCHANT_CONSOLE, PLATFORM_CONSOLE  # noqa: E402

UNFOLD = MERCHANT_CONSOLE
UNFOLD_PLATFORM = PLATFORM_CONSOLE
