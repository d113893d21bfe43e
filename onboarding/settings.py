"""Settings, read from the environment (and a `.env` file) with django-environ.

With no environment at all the application runs on the embedded defaults: SQLite and
private media under DATA_DIR, the built-in Kredibel sandbox as the provider, debug on.
`PRODUCTION=true` switches to production mode, which refuses to start unless the
variables in REQUIRED_IN_PRODUCTION are set, and never enables debug or the sandbox.
Every variable is listed with its meaning in `.env.example` and in the README.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from verification import crypto

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

PRODUCTION = env.bool("PRODUCTION", default=False)

REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "KREDIBEL_BASE_URL",
    "KREDIBEL_API_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "NIK_LOOKUP_KEY",
    "EMAIL_URL",
)
# Mailers that do not deliver: the console one would print every applicant's address
# and status link to the logs.
UNDELIVERED_MAIL_SCHEMES = ("consolemail", "filemail", "memorymail", "dummymail")


def _refuse_unsafe_production() -> None:
    problems = []
    missing = [name for name in REQUIRED_IN_PRODUCTION if not env.str(name, default="")]
    if missing:
        problems.append(
            "these environment variables must be set: " + ", ".join(missing)
        )
    if env.bool("DEBUG", default=False):
        problems.append("DEBUG must not be on")
    if env.bool("KREDIBEL_SANDBOX", default=False):
        problems.append("KREDIBEL_SANDBOX must not be on")
    scheme = env.str("EMAIL_URL", default="").partition(":")[0]
    if scheme in UNDELIVERED_MAIL_SCHEMES:
        problems.append(
            f"EMAIL_URL must name a real mail server (smtp+tls://...), not {scheme}://"
        )
    if env.str("PRIVATE_STORAGE", default="local") == "s3" and not env.str(
        "S3_BUCKET", default=""
    ):
        problems.append("S3_BUCKET must be set when PRIVATE_STORAGE is s3")
    if problems:
        raise ImproperlyConfigured(
            "Production mode (PRODUCTION=true) refuses to start: "
            + "; ".join(problems)
            + "."
        )


if PRODUCTION:
    _refuse_unsafe_production()

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))


def _local_secret_key() -> str:
    """A random key kept in DATA_DIR, so a local install's signed links survive
    restarts without anyone choosing a key."""
    path = DATA_DIR / "secret_key"
    if not path.is_file():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()


def _local_encryption_key() -> str:
    """A random encryption key kept in DATA_DIR (beside, never inside, the data it
    protects in a real deployment), so a local install encrypts without setup."""
    path = DATA_DIR / "field_encryption_key"
    if not path.is_file():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(crypto.generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


# Identity data at rest (verification.crypto): the first key encrypts, all decrypt.
# Separate from SECRET_KEY, which only signs.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    _local_encryption_key()
]
crypto.parse_keys(FIELD_ENCRYPTION_KEYS)  # a malformed key stops the start here
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = False if PRODUCTION else env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env.int("PORT", default=8000)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "onboarding",
    "verification",
    "verification.integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "onboarding.middleware.permissions_policy",
    # Inside the security headers' middleware, so that their redirects carry them.
    "verification.staff_sessions.end_stale_staff_sessions",
    "verification.two_step.require_two_step",
    # Last, so that it turns a locked-out login into the login page with its message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "onboarding.urls"
WSGI_APPLICATION = "onboarding.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# Database. SQLite runs the web server and the worker side by side in WAL mode, with
# IMMEDIATE transactions so that two writers wait for each other instead of failing.
DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
    # How long a writer waits for another; `?timeout=` in DATABASE_URL changes it.
    _options = DATABASES["default"]["OPTIONS"]
    _options["timeout"] = float(_options.get("timeout", 20))
    # Tests use a file (one per test run), so that a worker started as a separate
    # process sees the same database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(
            Path(tempfile.gettempdir()) / f"ktp-onboarding-test-{os.getpid()}.sqlite3"
        )
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One database queue, in lanes that do not wait behind each other: provider calls,
# applicant emails, housekeeping (recovery, sweeps, purges). See verification.worker.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "provider", "email", "housekeeping", "webhook"],
    }
}

# Reviewer logins (verification.lockout): failed logins are counted in the database
# (every web process sees them) per account and per client address; at
# LOGIN_FAILURE_LIMIT the account, and the address, are locked for
# LOGIN_LOCKOUT_MINUTES, the right password included.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured(
        "LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be at least 1."
    )
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "verification.clients.axes_client_address"
AXES_LOCKOUT_CALLABLE = "verification.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Time-based one-time codes (verification.two_step) for staff who may view identity
# images or decide: required in production mode, optional on the embedded defaults
# (a staff member who set one up is always asked for it).
STAFF_TOTP_REQUIRED = env.bool("STAFF_TOTP_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="e-Certificate onboarding")
# Staff sessions end after this long without a request, and this long after login.
ADMIN_SESSION_IDLE_MINUTES = env.int("ADMIN_SESSION_IDLE_MINUTES", default=30)
ADMIN_SESSION_MAX_HOURS = env.float("ADMIN_SESSION_MAX_HOURS", default=12.0)
if ADMIN_SESSION_IDLE_MINUTES < 1 or ADMIN_SESSION_MAX_HOURS <= 0:
    raise ImproperlyConfigured(
        "ADMIN_SESSION_IDLE_MINUTES and ADMIN_SESSION_MAX_HOURS must be positive."
    )

_VALIDATORS_MODULE = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _VALIDATORS_MODULE + "UserAttributeSimilarityValidator"},
    {"NAME": _VALIDATORS_MODULE + "MinimumLengthValidator"},
    {"NAME": _VALIDATORS_MODULE + "CommonPasswordValidator"},
    {"NAME": _VALIDATORS_MODULE + "NumericPasswordValidator"},
]

# Language: Bahasa Indonesia first, English second.
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Jakarta")
USE_I18N = True
USE_TZ = True

# Static files are served by WhiteNoise; identity images are never static or public.
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
PRIVATE_MEDIA_ROOT = Path(
    env.str("PRIVATE_MEDIA_ROOT", default=str(DATA_DIR / "private"))
)
# Identity photos are encrypted by us before they reach either storage.
PRIVATE_STORAGE = env.str("PRIVATE_STORAGE", default="local")
if PRIVATE_STORAGE == "local":
    _private_storage = {
        # No base_url: nothing in private storage has a public address.
        "BACKEND": "verification.storage.EncryptedFileSystemStorage",
        "OPTIONS": {
            "location": PRIVATE_MEDIA_ROOT,
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
elif PRIVATE_STORAGE == "s3":
    _private_storage = {
        "BACKEND": "verification.storage.EncryptedS3Storage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET", default=""),
            "location": env.str("S3_PREFIX", default=""),
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "addressing_style": env.str("S3_ADDRESSING_STYLE", default="") or None,
            # Objects inherit the bucket's (private) ACL; no URL is ever signed.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
else:
    raise ImproperlyConfigured("PRIVATE_STORAGE must be 'local' or 's3'.")
STORAGES = {
    "default": _private_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}
# Photos stream to temporary files, each cut off just past the largest photo
# accepted; form fields stay small.
FILE_UPLOAD_HANDLERS = ["onboarding.uploads.CappedUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
# A whole request: its size in bytes, refused (400) before it is read; room for
# two photos of the largest size accepted, and for one a good deal larger, which is
# still read and refused beside its field. Its file parts: the form has two.
UPLOAD_MAX_REQUEST_BYTES = env.int("UPLOAD_MAX_REQUEST_BYTES", default=50_000_000)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("UPLOAD_MAX_FILES", default=2)

# The web server `manage.py serve` runs in production mode (onboarding.webserver):
# gunicorn processes, threads each (requests served at once per process), and how
# long a request may keep its thread sending nothing: its head (request line and
# headers) must be in within WEB_HEADER_TIMEOUT_SECONDS, and no read of its body
# waits longer than WEB_READ_TIMEOUT_SECONDS.
WEB_WORKERS = env.int("WEB_WORKERS", default=2)
WEB_THREADS = env.int("WEB_THREADS", default=32)
WEB_HEADER_TIMEOUT_SECONDS = env.float("WEB_HEADER_TIMEOUT_SECONDS", default=20.0)
WEB_READ_TIMEOUT_SECONDS = env.float("WEB_READ_TIMEOUT_SECONDS", default=30.0)
if min(WEB_WORKERS, WEB_THREADS) < 1 or (
    min(WEB_HEADER_TIMEOUT_SECONDS, WEB_READ_TIMEOUT_SECONDS) <= 0
):
    raise ImproperlyConfigured(
        "WEB_WORKERS and WEB_THREADS must be at least 1, WEB_HEADER_TIMEOUT_SECONDS "
        "and WEB_READ_TIMEOUT_SECONDS more than 0."
    )

# Photos decoded at the same time in one web process (onboarding.images): each
# takes up to about 150 MB while it is decoded, whatever the file.
IMAGE_DECODES_AT_ONCE = env.int("IMAGE_DECODES_AT_ONCE", default=2)
if IMAGE_DECODES_AT_ONCE < 1:
    raise ImproperlyConfigured("IMAGE_DECODES_AT_ONCE must be at least 1.")

# Email: printed on the console unless EMAIL_URL names an SMTP server
# (smtp+tls://user:password@host:587, smtps://..., consolemail://).
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS", False),
    "use_ssl": _email.get("EMAIL_USE_SSL", False),
    "timeout": 10,
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": (
            _smtp_options
            if _email["EMAIL_BACKEND"].endswith(".smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Operators told by email when the day's budget of provider calls is spent.
ADMINS = env.list("ADMINS", default=[])

# Kredibel, the verification provider.
KREDIBEL_SANDBOX = False if PRODUCTION else env.bool("KREDIBEL_SANDBOX", default=True)
if KREDIBEL_SANDBOX:
    # The built-in sandbox is a server of its own, installed (and routed at
    # /sandbox/) only while it is on; production mode never loads it.
    INSTALLED_APPS.append("verification.sandbox")
SANDBOX_API_KEY = "sandbox-secret-key"
KREDIBEL_BASE_URL = (
    env.str("KREDIBEL_BASE_URL", default="") or f"http://127.0.0.1:{PORT}/sandbox"
).rstrip("/")
KREDIBEL_API_KEY = env.str("KREDIBEL_API_KEY", default="") or SANDBOX_API_KEY
KREDIBEL_CONNECT_TIMEOUT = env.float("KREDIBEL_CONNECT_TIMEOUT", default=5.0)
# The longest silence while waiting for the answer, and the longest a whole call may
# take on the wall clock (connect, send, every read), whatever the provider does.
KREDIBEL_READ_TIMEOUT = env.float("KREDIBEL_READ_TIMEOUT", default=30.0)
KREDIBEL_CALL_DEADLINE = env.float(
    "KREDIBEL_CALL_DEADLINE", default=KREDIBEL_CONNECT_TIMEOUT + KREDIBEL_READ_TIMEOUT
)
if KREDIBEL_CALL_DEADLINE <= KREDIBEL_CONNECT_TIMEOUT:
    raise ImproperlyConfigured(
        "KREDIBEL_CALL_DEADLINE must be longer than KREDIBEL_CONNECT_TIMEOUT."
    )
# Faults injected by the mounted sandbox (tests and load runs only); see
# verification.sandbox.faults.Faults for the keys.
KREDIBEL_SANDBOX_FAULTS: dict = {}
# What the provider charges, in rupiah, for the cost ledger's estimate
# (verification.ledger): a charged call, and a `not_verified` answer for a failed
# liveness check, which is charged the liveness check only. 0: not configured.
KREDIBEL_PRICE_IDR = env.int("KREDIBEL_PRICE_IDR", default=0)
KREDIBEL_LIVENESS_PRICE_IDR = env.int("KREDIBEL_LIVENESS_PRICE_IDR", default=0)
if KREDIBEL_PRICE_IDR < 0 or KREDIBEL_LIVENESS_PRICE_IDR < 0:
    raise ImproperlyConfigured(
        "KREDIBEL_PRICE_IDR and KREDIBEL_LIVENESS_PRICE_IDR must not be negative."
    )

# The key of the blind indexes (verification.lookups) applicants, emails and phones
# are found by. Separate from SECRET_KEY so that the secret key can be rotated
# without losing every applicant's history.
NIK_LOOKUP_KEY = env.str("NIK_LOOKUP_KEY", default="") or SECRET_KEY

# The public address, for links in emails sent by the worker (no request to ask).
SITE_URL = (
    env.str("SITE_URL", default="")
    or (f"https://{ALLOWED_HOSTS[0]}" if PRODUCTION else f"http://127.0.0.1:{PORT}")
).rstrip("/")

# The applicant journey.
# NIK structure (province, encoded date, serial) blocks a submission in production;
# while the provider is a sandbox it only warns, because the sandbox's documented test
# NIKs are not structurally valid.
NIK_STRUCTURE_CHECK = env.str("NIK_STRUCTURE_CHECK", default="") or (
    "warn" if KREDIBEL_SANDBOX or "sandbox" in KREDIBEL_BASE_URL else "block"
)
if NIK_STRUCTURE_CHECK not in ("block", "warn"):
    raise ImproperlyConfigured("NIK_STRUCTURE_CHECK must be 'block' or 'warn'.")
# Money limits at the door (verification.submission). A NIK's attempts are counted
# per browser (ATTEMPTS_PER_NIK_PER_DAY in any 24 hours), so that someone who knows
# another person's NIK cannot use up theirs; a browser sends ATTEMPTS_PER_SESSION
# a local day; a client address VERIFICATIONS_PER_IP_PER_HOUR in any hour, whatever
# its cookies say.
ATTEMPTS_PER_NIK_PER_DAY = env.int("ATTEMPTS_PER_NIK_PER_DAY", default=5)
ATTEMPTS_PER_SESSION = env.int("ATTEMPTS_PER_SESSION", default=10)
VERIFICATIONS_PER_IP_PER_HOUR = env.int("VERIFICATIONS_PER_IP_PER_HOUR", default=20)
# Provider calls the whole site may start in one local day (TIME_ZONE); past it
# attempts wait queued until the next day (verification.budget). 0: no budget.
DAILY_VERIFICATION_BUDGET = env.int("DAILY_VERIFICATION_BUDGET", default=1000)
if min(VERIFICATIONS_PER_IP_PER_HOUR, DAILY_VERIFICATION_BUDGET) < 0:
    raise ImproperlyConfigured(
        "VERIFICATIONS_PER_IP_PER_HOUR and DAILY_VERIFICATION_BUDGET cannot be "
        "negative."
    )
# Photos kept between requests before an attempt exists (onboarding.models), over
# the last 24 hours: per browser (past it, its oldest photos go) and per client
# address (past it, a new photo is refused beside its field). An address may be
# shared by many applicants (a mobile carrier's NAT), hence its larger bound.
DRAFTS_PER_BROWSER = env.int("DRAFTS_PER_BROWSER", default=6)
DRAFT_BYTES_PER_BROWSER = env.int("DRAFT_BYTES_PER_BROWSER", default=20_000_000)
DRAFTS_PER_CLIENT_ADDRESS = env.int("DRAFTS_PER_CLIENT_ADDRESS", default=200)
DRAFT_BYTES_PER_CLIENT_ADDRESS = env.int(
    "DRAFT_BYTES_PER_CLIENT_ADDRESS", default=400_000_000
)
if DRAFTS_PER_BROWSER < 2 or DRAFTS_PER_CLIENT_ADDRESS < 2:
    raise ImproperlyConfigured(
        "DRAFTS_PER_BROWSER and DRAFTS_PER_CLIENT_ADDRESS must be at least 2 (a "
        "selfie and a KTP photo)."
    )
STATUS_LINK_MAX_AGE_DAYS = env.int("STATUS_LINK_MAX_AGE_DAYS", default=30)
HANDOFF_LINK_MAX_AGE_MINUTES = env.int("HANDOFF_LINK_MAX_AGE_MINUTES", default=15)
# A 6-digit code emailed after the review step's send: the attempt (and its paid
# call) is made only once the applicant typed it. On by default in production mode.
# It works for EMAIL_CODE_MINUTES and EMAIL_CODE_TRIES tries; a new one to the same
# address can be asked for EMAIL_CODE_RESEND_SECONDS after the last.
EMAIL_CODE_REQUIRED = env.bool("EMAIL_CODE_REQUIRED", default=PRODUCTION)
EMAIL_CODE_MINUTES = env.int("EMAIL_CODE_MINUTES", default=10)
EMAIL_CODE_TRIES = env.int("EMAIL_CODE_TRIES", default=5)
EMAIL_CODE_RESEND_SECONDS = env.int("EMAIL_CODE_RESEND_SECONDS", default=60)
# Codes one client address may have emailed in any hour (resends included), whatever
# addresses they go to: past it no email goes out and the page asks to try again
# later. Counted in the database by the address's keyed digest. 0: no limit.
EMAIL_CODES_PER_IP_PER_HOUR = env.int("EMAIL_CODES_PER_IP_PER_HOUR", default=30)
if min(EMAIL_CODE_MINUTES, EMAIL_CODE_TRIES) < 1 or EMAIL_CODE_RESEND_SECONDS < 0:
    raise ImproperlyConfigured(
        "EMAIL_CODE_MINUTES and EMAIL_CODE_TRIES must be at least 1, "
        "EMAIL_CODE_RESEND_SECONDS at least 0."
    )
if EMAIL_CODES_PER_IP_PER_HOUR < 0:
    raise ImproperlyConfigured(
        "EMAIL_CODES_PER_IP_PER_HOUR cannot be negative (0: no limit)."
    )
# Automatic retries of a provider call that failed in a way a retry can fix (5xx,
# 429, connection failures): exponential backoff with full jitter.
VERIFY_MAX_TRIES = env.int("VERIFY_MAX_TRIES", default=6)
VERIFY_RETRY_BASE_SECONDS = env.float("VERIFY_RETRY_BASE_SECONDS", default=15.0)
VERIFY_RETRY_MAX_SECONDS = env.float("VERIFY_RETRY_MAX_SECONDS", default=600.0)
# A call whose answer was lost (read timeout, worker stopped mid-call) may have been
# charged: it is repeated at most this many times, after VERIFY_UNKNOWN_DELAY_SECONDS.
VERIFY_UNKNOWN_OUTCOME_REPEATS = env.int("VERIFY_UNKNOWN_OUTCOME_REPEATS", default=1)
VERIFY_UNKNOWN_DELAY_SECONDS = env.float("VERIFY_UNKNOWN_DELAY_SECONDS", default=120.0)
# How long a worker keeps trying to save a provider's answer through a database
# outage (a fresh connection each time) before it gives up and logs the answer's
# ids for reconciliation.
VERIFY_ANSWER_WRITE_SECONDS = env.float("VERIFY_ANSWER_WRITE_SECONDS", default=20.0)
# An attempt held by a worker longer than this is considered abandoned (the worker
# died or froze) and is picked up again: the call deadline plus a margin that
# covers saving the answer.
VERIFY_LEASE_MARGIN_SECONDS = env.float("VERIFY_LEASE_MARGIN_SECONDS", default=30.0)
VERIFY_LEASE_SECONDS = KREDIBEL_CALL_DEADLINE + VERIFY_LEASE_MARGIN_SECONDS
# Calls in flight towards the provider at once, over every worker on every host.
VERIFY_MAX_IN_FLIGHT = env.int("VERIFY_MAX_IN_FLIGHT", default=20)
# The circuit breaker: after this many provider failures in a row (5xx, 429, no
# connection, no answer) no worker calls the provider for the cooldown; then one
# call probes it. Each failed probe doubles the cooldown, up to
# VERIFY_RETRY_MAX_SECONDS.
VERIFY_BREAKER_FAILURES = env.int("VERIFY_BREAKER_FAILURES", default=5)
VERIFY_BREAKER_COOLDOWN_SECONDS = env.float(
    "VERIFY_BREAKER_COOLDOWN_SECONDS", default=30.0
)
if VERIFY_MAX_IN_FLIGHT < 1 or VERIFY_BREAKER_FAILURES < 1:
    raise ImproperlyConfigured(
        "VERIFY_MAX_IN_FLIGHT and VERIFY_BREAKER_FAILURES must be at least 1."
    )

# Applicant emails: sent by the worker from an outbox, retried with backoff while
# the mail server does not take them, at most EMAIL_MAX_TRIES times.
EMAIL_MAX_TRIES = env.int("EMAIL_MAX_TRIES", default=10)
EMAIL_RETRY_BASE_SECONDS = env.float("EMAIL_RETRY_BASE_SECONDS", default=30.0)
EMAIL_RETRY_MAX_SECONDS = env.float("EMAIL_RETRY_MAX_SECONDS", default=1800.0)

# The worker (`manage.py worker`): threads per pool (0 picks a default from the
# machine and the database) and how often an idle pool looks for work.
WORKER_PROVIDER_THREADS = env.int("WORKER_PROVIDER_THREADS", default=0)
WORKER_EMAIL_THREADS = env.int("WORKER_EMAIL_THREADS", default=0)
WORKER_WEBHOOK_THREADS = env.int("WORKER_WEBHOOK_THREADS", default=0)
WORKER_POLL_SECONDS = env.float("WORKER_POLL_SECONDS", default=0.1)
# On SIGTERM a worker takes no new task and finishes the ones it holds: a call ends
# by its deadline and its answer is saved within VERIFY_ANSWER_WRITE_SECONDS.
WORKER_STOP_GRACE_SECONDS = KREDIBEL_CALL_DEADLINE + VERIFY_ANSWER_WRITE_SECONDS + 5

# The integrator API (verification.integrations): sessions, webhooks, limits.
API_SESSION_LIFETIME_HOURS = env.float("API_SESSION_LIFETIME_HOURS", default=24.0)
API_REQUESTS_PER_MINUTE = env.int("API_REQUESTS_PER_MINUTE", default=120)
API_SESSIONS_PER_HOUR = env.int("API_SESSIONS_PER_HOUR", default=600)
# Webhooks: retried with backoff for WEBHOOK_RETRY_HOURS on any non-2xx answer or
# timeout; each try ends within WEBHOOK_TIMEOUT_SECONDS, whatever the receiver does.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=24.0)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
# Webhooks to private, loopback or link-local addresses are refused in production
# mode (a webhook URL must not reach into the operator's own network) unless the
# address is in one of these networks (comma-separated CIDRs, e.g. 10.20.0.0/16
# for a receiver inside the operator's network).
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network (10.0.0.0/8)."
        ) from None
if min(API_REQUESTS_PER_MINUTE, API_SESSIONS_PER_HOUR) < 1 or (
    API_SESSION_LIFETIME_HOURS <= 0 or WEBHOOK_TIMEOUT_SECONDS <= 0
):
    raise ImproperlyConfigured(
        "API_REQUESTS_PER_MINUTE, API_SESSIONS_PER_HOUR, API_SESSION_LIFETIME_HOURS "
        "and WEBHOOK_TIMEOUT_SECONDS must be positive."
    )

# /healthz answers 503 when a due task has waited longer than this, when more tasks
# than this are due, or when more attempts than this are stuck past their lease.
HEALTH_MAX_TASK_WAIT_SECONDS = env.float("HEALTH_MAX_TASK_WAIT_SECONDS", default=300.0)
HEALTH_MAX_TASKS_DUE = env.int("HEALTH_MAX_TASKS_DUE", default=5000)
HEALTH_MAX_STUCK_ATTEMPTS = env.int("HEALTH_MAX_STUCK_ATTEMPTS", default=0)

# Prometheus metrics at /metrics (verification.metrics), for the operator's
# monitoring: off unless a token is set; a scrape must send it as a bearer token.
# What is costly to count (over every attempt and call) is counted at most once per
# METRICS_CACHE_SECONDS in each process.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_CACHE_SECONDS = env.float("METRICS_CACHE_SECONDS", default=30.0)

# Compliance review. Four-eyes (verification.reviews): "off", "rejections" (a
# rejection waits for a second reviewer's confirmation) or "all" (every decision
# does). The SLA: hours within which a case should be decided; older ones stand out
# in the queue and on the dashboard, and the applicant is told when to expect it.
REVIEW_FOUR_EYES = env.str("REVIEW_FOUR_EYES", default="off")
if REVIEW_FOUR_EYES not in ("off", "rejections", "all"):
    raise ImproperlyConfigured("REVIEW_FOUR_EYES must be 'off', 'rejections' or 'all'.")
REVIEW_SLA_HOURS = env.float("REVIEW_SLA_HOURS", default=24.0)
if REVIEW_SLA_HOURS <= 0:
    raise ImproperlyConfigured("REVIEW_SLA_HOURS must be more than 0.")

# Retention (verification.retention, applied daily and recorded). Photos go first,
# identity fields later; a minimal audit record (code, status, times, the provider's
# ids, decision and reason, masked NIK) is kept for good.
RETENTION_PHOTO_DAYS = env.int("RETENTION_PHOTO_DAYS", default=30)
RETENTION_IDENTITY_DAYS = env.int("RETENTION_IDENTITY_DAYS", default=365)
# How long a PSrE must keep the records of an identity check that led to a
# certificate is set by its regulator and its own policy, not known here: the default
# errs on keeping them long.
PSRE_RECORD_KEEPING_YEARS = env.int("PSRE_RECORD_KEEPING_YEARS", default=20)
for _name in ("RETENTION_PHOTO_DAYS", "RETENTION_IDENTITY_DAYS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
if RETENTION_IDENTITY_DAYS < RETENTION_PHOTO_DAYS:
    raise ImproperlyConfigured(
        "RETENTION_IDENTITY_DAYS must not be shorter than RETENTION_PHOTO_DAYS."
    )
if PSRE_RECORD_KEEPING_YEARS < 1:
    raise ImproperlyConfigured("PSRE_RECORD_KEEPING_YEARS must be at least 1.")

# Security. Production runs behind TLS; the local default does not.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Nothing inline, nothing from elsewhere: pages load only their own files. Camera
# frames and photo previews are blob: URLs made in the page.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# The camera may be used by this site's own pages only; nothing else is granted.
PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=()"
# Behind a reverse proxy that appends the client's address to X-Forwarded-For: count
# limits by that address instead of the proxy's (verification.clients).
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Logs: plain lines, or JSON lines for a log collector (onboarding.logformat).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "onboarding.logformat.JsonLines"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler only speaks in DEBUG; ours always does.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # SQL with its parameters (identity data) is never logged, whatever LOG_LEVEL.
        "django.db.backends": {"level": "INFO"},
        # Failed logins and lock-outs (usernames and addresses masked); not every
        # check.
        "axes": {"level": "WARNING"},
    },
}
