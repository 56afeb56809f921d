"""The Django project around the consumer: model, admin, sign-in, settings, command."""

import asyncio
import importlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import pytest
from channels.routing import ProtocolTypeRouter
from channels.security.websocket import OriginValidator
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.test.utils import override_script_prefix
from django.urls import Resolver404, clear_url_caches, resolve

from social.models import Post

PROJECT_DIR = Path(__file__).resolve().parent.parent / "tutorial_project"

# What Chromium and Firefox send when the user opens a page.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.django_db
def test_post_body_is_required_and_at_most_256_characters(alice):
    for body in ["", "x" * 257]:
        with pytest.raises(ValidationError):
            Post(author=alice, body=body).full_clean()
    Post(author=alice, body="x" * 256).full_clean()


def test_post_has_indexes_for_the_feed_and_for_the_rate_limit():
    assert [index.fields for index in Post._meta.indexes] == [
        ["-created_at", "-id"],
        ["author", "created_at"],
    ]


@pytest.mark.django_db
def test_migrations_are_committed():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_posts_are_in_the_admin(admin_client, alice):
    assert admin.site.is_registered(Post)
    post = Post.objects.create(author=alice, body="hello #admin")
    page = admin_client.get(f"/admin/social/post/{post.pk}/change/")
    assert page.status_code == 200 and "hello #admin" in page.content.decode()


@pytest.mark.django_db
def test_dev_login_creates_the_user_and_signs_in(client, django_user_model):
    response = client.get("/login/alice/")
    assert response.status_code == 200
    user = django_user_model.objects.get(username="alice")
    assert response.json() == {"username": "alice", "user_id": user.pk}
    assert not user.has_usable_password()
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/login/alice/").json()["user_id"] == user.pk  # same user again


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json, text/html;q=0.5"])
def test_dev_login_answers_json_to_a_client_that_does_not_prefer_html(client, accept):
    response = client.get("/login/alice/", headers={"accept": accept})
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert "Accept" in response["Vary"]  # a cache must not answer a browser with it


@pytest.mark.django_db
def test_dev_login_opened_in_a_browser_lands_on_the_feed(client):
    response = client.get("/login/alice/", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Accept" in response["Vary"]
    assert client.get("/").context["user"].username == "alice"


@pytest.mark.django_db
def test_dev_login_sends_a_browser_to_the_feed_under_a_path_prefix(client):
    # As behind jupyter-server-proxy, which passes the prefix as SCRIPT_NAME.
    with override_script_prefix("/user/me/proxy/8000/"):
        response = client.get("/login/alice/", headers={"accept": BROWSER_ACCEPT})
    assert response["Location"] == "/user/me/proxy/8000/"


@pytest.mark.django_db
@pytest.mark.parametrize("accept", [None, BROWSER_ACCEPT])
def test_dev_login_redirects_only_within_the_site(client, accept):
    headers = {"accept": accept} if accept else {}
    assert client.get("/login/alice/?next=/admin/", headers=headers)["Location"] == "/admin/"
    response = client.get("/login/alice/?next=https://evil.example/", headers=headers)
    if accept:
        assert response["Location"] == "/"  # the feed, not the other site
    else:
        assert response.status_code == 200 and response.json()["username"] == "alice"


@pytest.mark.django_db
def test_dev_login_rejects_invalid_usernames(client, django_user_model):
    response = client.get("/login/not%20valid!/")
    assert response.status_code == 400
    assert not django_user_model.objects.exists()


@pytest.mark.django_db
def test_dev_logout(client):
    client.get("/login/alice/")
    response = client.get("/logout/", headers={"accept": "application/json"})
    assert response.json() == {"signed_in": False}
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_dev_logout_opened_in_a_browser_lands_on_the_feed(client):
    client.get("/login/alice/")
    response = client.get("/logout/", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "_auth_user_id" not in client.session


async def test_the_site_has_an_icon(asgi_server):
    """The page links an icon, and /favicon.ico (which browsers ask for anyway)
    leads to it: both answer an image, not a 404."""

    def get(url):
        with urllib.request.urlopen(url, timeout=10) as response:  # follows redirects
            return response.status, response.headers["Content-Type"], response.read()

    _, _, page = await asyncio.to_thread(get, asgi_server.url + "/")
    (icon,) = re.findall(r'<link rel="icon" href="([^"]+)"', page.decode())
    for url in [urljoin(asgi_server.url + "/", icon), asgi_server.url + "/favicon.ico"]:
        status, content_type, body = await asyncio.to_thread(get, url)
        assert (status, content_type) == (200, "image/svg+xml"), url
        assert body.startswith(b"<svg")


def test_dev_sign_in_is_routed_only_while_debug_is_on():
    import config.urls

    assert resolve("/login/alice/").url_name == "dev-login"
    try:
        with override_settings(DEBUG=False):
            importlib.reload(config.urls)
            clear_url_caches()
            for url in ["/login/alice/", "/logout/"]:
                with pytest.raises(Resolver404):
                    resolve(url)
    finally:
        importlib.reload(config.urls)
        clear_url_caches()
    assert resolve("/login/alice/").url_name == "dev-login"


def test_asgi_application_routes_websockets_through_origin_and_auth_checks():
    from config.asgi import application

    assert isinstance(application, ProtocolTypeRouter)
    assert set(application.application_mapping) == {"http", "websocket"}
    assert isinstance(application.application_mapping["websocket"], OriginValidator)


def settings_in_a_fresh_process(**environ):
    """Read settings as a new process with this environment would."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS, "
        "'layer': settings.CHANNEL_LAYERS['default'], "
        "'db': settings.DATABASES['default']['NAME'], 'apps': settings.INSTALLED_APPS}, "
        # a class in the settings (the Redis errors to retry on) prints as its dotted name
        "default=lambda o: o.__module__ + '.' + o.__qualname__))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY"}
    }
    env.update(environ, DJANGO_SETTINGS_MODULE="config.settings")
    output = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def test_settings_defaults_are_embedded():
    settings = settings_in_a_fresh_process(SQLITE_PATH="")
    assert settings["db"] == str(PROJECT_DIR / "db.sqlite3")
    assert settings["debug"] is True
    assert {"127.0.0.1", "localhost"} <= set(settings["hosts"])
    assert settings["layer"]["BACKEND"] == "social.layers.FanOutInMemoryChannelLayer"
    assert settings["layer"]["CONFIG"]["capacity"] == 1000  # above a burst of posts
    assert settings["apps"][0] == "daphne"  # so runserver speaks WebSocket


def test_settings_follow_the_environment():
    settings = settings_in_a_fresh_process(
        REDIS_URL="redis://127.0.0.1:6390/0",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-deployment-key-of-its-own-" + "x" * 30,  # required with DEBUG off
        SQLITE_PATH="/tmp/x.sqlite3",
    )
    assert settings["debug"] is False
    assert settings["layer"] == {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": "redis://127.0.0.1:6390/0",
                    "retry_on_error": ["redis.exceptions.ConnectionError"],
                }
            ],
            "capacity": 1000,
        },
    }
    assert settings["db"] == "/tmp/x.sqlite3"


def test_redis_layer_picks_the_pub_sub_layer_which_has_no_capacity():
    settings = settings_in_a_fresh_process(
        REDIS_URL="redis://127.0.0.1:6390/0", REDIS_LAYER="pubsub"
    )
    assert settings["layer"]["BACKEND"] == "social.layers.OutageReportingPubSubChannelLayer"
    assert "capacity" not in settings["layer"]["CONFIG"]


def test_an_unknown_redis_layer_is_refused_naming_the_choices():
    with pytest.raises(subprocess.CalledProcessError) as refusal:
        settings_in_a_fresh_process(REDIS_URL="redis://127.0.0.1:6390/0", REDIS_LAYER="cluster")
    assert "REDIS_LAYER is 'cluster': use one of core, pubsub" in refusal.value.stderr


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_safe_to_run_twice(django_user_model):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    assert set(django_user_model.objects.values_list("username", flat=True)) == {
        "alice",
        "bob",
        "carol",
    }
    assert Post.objects.count() == 5


def test_conda_environment_installs_the_same_pins():
    import yaml

    root = PROJECT_DIR.parent
    environment = yaml.safe_load((root / "environment.yml").read_text())
    (pip_section,) = [item for item in environment["dependencies"] if isinstance(item, dict)]
    assert "-r requirements.txt" in pip_section["pip"]
    python = next(dep for dep in environment["dependencies"] if str(dep).startswith("python="))
    assert python.split("=")[1] in {"3.11", "3.12", "3.13"}
    pins = [
        line
        for line in (root / "requirements.txt").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    assert all("==" in pin for pin in pins), "every requirement is pinned exactly"
    assert any(pin.startswith("django==5.2.") for pin in pins)
    assert "djangochannelsrestframework==1.3.0" in pins
