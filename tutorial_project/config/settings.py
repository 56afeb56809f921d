"""Settings for the finished tutorial project.

Every value has a development default so that `make serve` and the notebooks work with no
configuration: SQLite and the in-memory channel layer, both embedded in the process. The
environment overrides what a deployment must change:

    DJANGO_SECRET_KEY    the signing key. The default is public: with DEBUG off the
                         project refuses to start without a key of its own
    DJANGO_DEBUG         "0"/"false" turns debug, and the development sign-in, off
    DJANGO_ALLOWED_HOSTS comma-separated hosts added to 127.0.0.1 and localhost
    DJANGO_PROXY_PREFIXES comma-separated path prefixes a trusted path-prefix proxy serves the
                         site under, e.g. /user/alice/proxy/absolute/8000 (config/proxy.py)
    SQLITE_PATH          where the SQLite database lives (default: db.sqlite3 here)
    DATABASE_URL         another database instead, e.g. postgres://user:pass@127.0.0.1:5432/social
    REDIS_URL            use channels_redis, so several server processes share groups
    REDIS_LAYER          which channels_redis layer: "core" (default, RedisChannelLayer) or
                         "pubsub" (RedisPubSubChannelLayer); the README compares them
    SOCIAL_TOKEN_MAX_AGE_DAYS  days a sign-in token for notebooks and scripts is accepted
                         after it was issued (default 7; social/auth.py)
    SOCIAL_<LIMIT>       each of SOCIAL_LIMITS below, e.g. SOCIAL_POSTS_PER_MINUTE=60

With DEBUG off the site is served over HTTPS only, and `manage.py check --deploy` passes
once the HSTS questions below are answered. While DEBUG is on, Django's own defaults hold
(plain HTTP, cookies not Secure) unless these say otherwise:

    DJANGO_SECURE_SSL_REDIRECT  "0" stops redirecting http:// requests to https://
                         (default: on with DEBUG off), for a server only a proxy reaches
    DJANGO_SECURE_PROXY_SSL_HEADER  "1" trusts `X-Forwarded-Proto: https` to mean the
                         browser used HTTPS. Only behind a TLS proxy that sets (or
                         removes) that header on every request; anyone else could send it
    DJANGO_SECURE_HSTS_SECONDS  how long browsers must use HTTPS only for this host, the
                         Strict-Transport-Security header (default: a year with DEBUG off;
                         "0" sends none)
    DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS, DJANGO_SECURE_HSTS_PRELOAD  "1" or "0": extend
                         HSTS to every subdomain; allow submitting the domain to the
                         browsers' preload list. Both default to off, and `check --deploy`
                         warns until each is answered, either way
    DJANGO_CSRF_TRUSTED_ORIGINS  comma-separated origins a form may be posted from besides
                         the request's own, e.g. https://social.example
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in {"", "0", "false", "no", "off"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# Public (it is in this repository), so anyone could sign a session cookie with it.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-key-do-not-deploy"

DEBUG = env_flag("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip() or DEVELOPMENT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    # A warning from `check --deploy` would come too late: runserver and uvicorn never
    # run it, and the server would be signing sessions with a key everyone knows.
    raise ImproperlyConfigured(
        "DEBUG is off, so DJANGO_SECRET_KEY must be set to a secret key of this "
        "deployment's own (the development default is public). Make one with:\n"
        '    python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + env_list("DJANGO_ALLOWED_HOSTS")

# HTTPS. While DEBUG is on nothing below changes Django's defaults, so http://127.0.0.1
# keeps working; with DEBUG off the site is served over HTTPS only.
#
# http:// requests are redirected to https://. A server that only a TLS proxy reaches
# may leave that to the proxy (DJANGO_SECURE_SSL_REDIRECT=0).
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Behind a TLS proxy every request arrives as plain HTTP: Django would redirect it
# again, forever, and refuse forms from the https:// origin. The proxy says what the
# browser used in X-Forwarded-Proto, but that header is only trustworthy when the proxy
# overwrites it on every request, so it is believed only when asked for. (uvicorn
# already believes it from its --forwarded-allow-ips, 127.0.0.1 by default.)
if env_flag("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Cookies that browsers send over HTTPS only, so a network attacker never sees the
# session. (HttpOnly, Django's default for the session cookie, keeps it from scripts.)
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
# HSTS (sent with HTTPS responses only): once a browser has seen the site over HTTPS it
# refuses plain HTTP, and certificate errors, for this host for SECURE_HSTS_SECONDS.
# A year by default: with the redirect above the host is committed to HTTPS anyway,
# and a shorter time leaves infrequent visitors unprotected. Try 3600 on a first
# deployment if unsure. Subdomains and the preload list commit other hosts, and cannot
# be taken back quickly, so they are off unless asked for; `check --deploy` warns
# (security.W005, W021) until the environment answers each, either way.
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS") or (0 if DEBUG else 365 * 86400)
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [
    check
    for variable, check in [
        ("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", "security.W005"),
        ("DJANGO_SECURE_HSTS_PRELOAD", "security.W021"),
    ]
    if variable in os.environ  # answered: a decision, not an oversight
]
# Origins a form may be posted from besides the request's own, e.g. the site's public
# https:// origin when the proxy does not tell Django that the request used HTTPS.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Signing in with a password: Django's LoginView and LogoutView (config/urls.py). URL
# names, not paths, so that they follow a proxy's path prefix (config/proxy.py).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "feed"
LOGOUT_REDIRECT_URL = "feed"

# Requests that jupyter-server-proxy (or a proxy like it) forwards under one of these
# path prefixes are served as if mounted there, with the browser's host accepted for
# them only (config/proxy.py).
PROXY_PREFIXES = [
    prefix.strip()
    for prefix in os.environ.get("DJANGO_PROXY_PREFIXES", "").split(",")
    if prefix.strip()
]

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's, so `runserver` speaks WebSocket.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Tokens for clients that are not browsers (social/auth.py), managed in the admin.
    "rest_framework.authtoken",
    "channels",
    "social",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # With DEBUG off Django serves no static files; ServeStatic (WhiteNoise's
    # ASGI-capable successor) serves the page's CSS and JavaScript, so a server
    # needs no web server in front for them. While DEBUG is on, runserver and the
    # notebooks' server serve them, as they always have.
    *(["servestatic.middleware.ServeStaticMiddleware"] if not DEBUG else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            # Keep each thread's connection instead of reopening it for every
            # message; WAL with synchronous=NORMAL commits without waiting for the
            # disk each time (measured with `make bench`: a post's create took
            # about 3.7 ms of server time with Django's defaults).
            "CONN_MAX_AGE": 600,
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    }

# How many live events may wait for one connection before the layer drops the rest.
# Channels' default, 100, is less than one burst of posts (`make bench`, notebook 09):
# a subscriber that stalls briefly would silently miss events.
CHANNEL_CAPACITY = 1000

if os.environ.get("REDIS_URL"):
    # Groups live in Redis, so an event published by any process reaches every process.
    # A group membership lasts `group_expiry` (86400 s): it outlives a crashed server
    # process by at most a day, and a connection open longer renews its own
    # (social/memberships.py). A message waits `expiry` (60 s).
    #
    # After Redis restarts, each pooled connection fails its next command once;
    # retry_on_error retries it once on a new connection, so a restart costs no more
    # than the reconnect it forces (social/outages.py says what an outage costs).
    #
    # REDIS_LAYER=pubsub picks channels_redis's Pub/Sub layer instead: one PUBLISH per
    # group_send, fanned out by each process to its own members, where the core layer
    # writes one list entry per member. Its queues have no `capacity`, and what is
    # published while a process is cut off from Redis never reaches it: the project's
    # subclass then closes the process's connections, which reload (social/layers.py).
    from redis.exceptions import ConnectionError as RedisConnectionError

    REDIS_LAYER_BACKENDS = {
        "core": "channels_redis.core.RedisChannelLayer",
        "pubsub": "social.layers.OutageReportingPubSubChannelLayer",
    }
    REDIS_LAYER = os.environ.get("REDIS_LAYER", "core")
    if REDIS_LAYER not in REDIS_LAYER_BACKENDS:
        raise ImproperlyConfigured(
            f"REDIS_LAYER is {REDIS_LAYER!r}: use one of {', '.join(REDIS_LAYER_BACKENDS)}"
        )
    redis_layer_config = {
        "hosts": [{"address": os.environ["REDIS_URL"], "retry_on_error": [RedisConnectionError]}]
    }
    if REDIS_LAYER == "core":
        redis_layer_config["capacity"] = CHANNEL_CAPACITY
    CHANNEL_LAYERS = {
        "default": {"BACKEND": REDIS_LAYER_BACKENDS[REDIS_LAYER], "CONFIG": redis_layer_config}
    }
else:
    # Groups live in this process's memory: fine for one server, invisible to any other.
    # Channels' own InMemoryChannelLayer walks every channel on every message; this
    # subclass does not (social/layers.py). Memberships leave with their connections
    # and the whole layer with its process, so they never need to expire.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "social.layers.FanOutInMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY, "group_expiry": 100 * 365 * 86400},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# An absolute path, so Django never bakes one request's script prefix into it: the
# storage below puts each request's own prefix in front (config/proxy.py).
STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.proxy.PrefixedStaticFilesStorage"},
}
# `manage.py collectstatic` gathers the files here for the web server in front
# (runserver and the notebooks' server serve them themselves while DEBUG is on).
STATIC_ROOT = BASE_DIR / "staticfiles"
# ServeStatic finds the files where the apps keep them, so serving them needs no
# `collectstatic` step (a deployment with a web server in front may still run it).
SERVESTATIC_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# What one client may ask of the server (social/limits.py enforces them; the
# README's "Limits" table). Each has a safe default and an environment variable of
# the same name, so a benchmark or a deployment can change it without an edit here.
SOCIAL_LIMITS = {
    # The longest text frame the consumer parses: 413 reply. (uvicorn's own
    # --ws-max-size, 16 MiB by default, closes the connection with 1009 above that.)
    "MAX_MESSAGE_LENGTH": 16 * 1024,
    # Hashtag and list subscriptions one connection may hold: 429 reply.
    "MAX_SUBSCRIPTIONS": 100,
    # Posts one user may create in any 60 seconds, over all their connections and
    # server processes (counted in the database): 429 reply.
    "POSTS_PER_MINUTE": 30,
    # Open WebSocket connections one signed-in user may hold in one server process:
    # the next is closed with code 4429.
    "CONNECTIONS_PER_USER": 20,
    # Seconds a connection's socket may refuse to take a message (a client that
    # stopped reading) before it is closed and leaves its groups.
    "SEND_TIMEOUT": 10.0,
}
for _name, _default in SOCIAL_LIMITS.items():
    if f"SOCIAL_{_name}" in os.environ:
        SOCIAL_LIMITS[_name] = type(_default)(os.environ[f"SOCIAL_{_name}"])

# How long a sign-in token (social/auth.py) is accepted after it was issued: a
# workshop's length, so that a sheet of tokens left in a room stops working.
SOCIAL_TOKEN_MAX_AGE_DAYS = float(os.environ.get("SOCIAL_TOKEN_MAX_AGE_DAYS") or 7)
