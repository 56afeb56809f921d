"""Settings for the finished tutorial project.

Every value has a development default so that `make serve` and the notebooks work with no
configuration: SQLite and the in-memory channel layer, both embedded in the process. The
environment overrides what a deployment must change:

    DJANGO_SECRET_KEY    the signing key (the default is public, so never deploy it)
    DJANGO_DEBUG         "0"/"false" turns debug, and the development sign-in, off
    DJANGO_ALLOWED_HOSTS comma-separated hosts added to 127.0.0.1 and localhost
    DJANGO_PROXY_PREFIXES comma-separated path prefixes a trusted path-prefix proxy serves the
                         site under, e.g. /user/alice/proxy/absolute/8000 (config/proxy.py)
    SQLITE_PATH          where the SQLite database lives (default: db.sqlite3 here)
    DATABASE_URL         another database instead, e.g. postgres://user:pass@127.0.0.1:5432/social
    REDIS_URL            use channels_redis, so several server processes share groups
"""
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in {"", "0", "false", "no", "off"}


SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-development-only-key-do-not-deploy"
)
DEBUG = env_flag("DJANGO_DEBUG", True)
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")
    if host.strip()
]

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
    "channels",
    "social",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
    # process by at most a day, and a connection open longer than that stops receiving
    # (clients reconnect, feed.js does on any close). A message waits `expiry` (60 s).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "capacity": CHANNEL_CAPACITY},
        }
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
