"""The production profile: what DEBUG off changes, and what it refuses.

Settings are read once per process, so whatever settings.py decides from the
environment is tested in new processes (`manage.py check`, a DeployedServer);
views and templates through Django's test client or the ASGI application.
"""

import importlib
import os
import re
import secrets
import subprocess
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import httpx
import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.test import AsyncClient, Client, override_settings
from django.urls import clear_url_caches

from config.asgi import application
from config.proxy import PathPrefixProxyMiddleware
from notebook_runtime.processes import (
    DeployedServer,
    manage,
    manage_command,
    shared_sqlite_database,
)
from social.auth import SIGNED_OUT
from social.models import Post

PASSWORD = "correct horse battery staple"
DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-key-do-not-deploy"

# One deployment behind a TLS proxy at https://social.example, as the README's
# deployment section describes it. The HSTS questions that `check --deploy` asks
# are answered: this host only, not on the preload list.
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "social.example",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://social.example",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "1",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "0",
    "DJANGO_SECURE_HSTS_PRELOAD": "0",
}


def run_manage(*args, **environ):
    """`manage.py <args>` in a new process whose only DJANGO_ variables are
    `environ`'s: (exit code, stdout and stderr)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(environ)
    result = subprocess.run(
        [*manage_command(), *args], env=env, capture_output=True, text=True, timeout=60
    )
    return result.returncode, result.stdout + result.stderr


# Settings: `manage.py check --deploy` in the production environment -------------


def test_the_production_profile_passes_check_deploy():
    code, output = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert code == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output


@pytest.mark.parametrize(
    "change, warning",
    [
        # Serving plain HTTP too, with no redirect.
        ({"DJANGO_SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        # HSTS switched off.
        ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        # Nobody decided whether HSTS covers the subdomains.
        ({"DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": None}, "security.W005"),
        # A key too short to be secret.
        ({"DJANGO_SECRET_KEY": "short"}, "security.W009"),
    ],
)
def test_check_deploy_fails_when_the_profile_is_weakened(change, warning):
    environ = {**PRODUCTION, **change}
    environ = {key: value for key, value in environ.items() if value is not None}
    code, output = run_manage("check", "--deploy", "--fail-level", "WARNING", **environ)
    assert code != 0
    assert warning in output


@pytest.mark.parametrize("secret_key", [None, "", DEVELOPMENT_SECRET_KEY])
def test_debug_off_refuses_to_start_without_a_secret_key_of_its_own(secret_key):
    environ = {"DJANGO_DEBUG": "0"}
    if secret_key is not None:
        environ["DJANGO_SECRET_KEY"] = secret_key
    code, output = run_manage("check", **environ)
    assert code != 0
    assert "ImproperlyConfigured" in output and "DJANGO_SECRET_KEY" in output
    assert "secrets.token_urlsafe(50)" in output  # how to make one


SETTINGS_AS_JSON = (
    "import json; from django.conf import settings; print(json.dumps({name: "
    "getattr(settings, name) for name in ['DEBUG', 'SECURE_SSL_REDIRECT', "
    "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
    "'SECURE_PROXY_SSL_HEADER', 'CSRF_TRUSTED_ORIGINS']}))"
)


def test_while_debug_is_on_plain_http_keeps_working():
    code, output = run_manage("shell", "-c", SETTINGS_AS_JSON)
    assert code == 0, output
    assert output.strip().splitlines()[-1] == (
        '{"DEBUG": true, "SECURE_SSL_REDIRECT": false, "SESSION_COOKIE_SECURE": false, '
        '"CSRF_COOKIE_SECURE": false, "SECURE_HSTS_SECONDS": 0, '
        '"SECURE_PROXY_SSL_HEADER": null, "CSRF_TRUSTED_ORIGINS": []}'
    )


# Signing in with a password, DEBUG off, through the test client -------------------


@pytest.fixture
def debug_off():
    """DEBUG off for views, and the URLconf built again as settings.py would build
    it with DEBUG off (without the development sign-in)."""
    import config.urls

    try:
        with override_settings(DEBUG=False):
            importlib.reload(config.urls)
            clear_url_caches()
            yield
    finally:
        importlib.reload(config.urls)
        clear_url_caches()


@pytest.fixture
def carol(django_user_model):
    return django_user_model.objects.create_user("carol", password=PASSWORD)


@pytest.fixture
def browser():
    """A test client that checks CSRF tokens, as the server does for a browser."""
    return Client(enforce_csrf_checks=True)


def post_form(client, path, **data):
    """Submit a form with the CSRF token a page of the site gave the client."""
    token = client.cookies["csrftoken"].value
    return client.post(path, {"csrfmiddlewaretoken": token, **data})


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


@pytest.mark.django_db
def test_the_sign_in_page_looks_like_the_site_and_carries_a_csrf_token(debug_off, browser):
    response = browser.get("/accounts/login/")
    assert response.status_code == 200
    assert "registration/login.html" in [template.name for template in response.templates]
    page = response.content.decode()
    assert re.search(r'<form id="login"[^>]* method="post" action="/accounts/login/"', page)
    assert 'name="csrfmiddlewaretoken"' in page and "csrftoken" in browser.cookies
    assert 'href="/static/social/feed.css"' in page  # the feed page's look
    assert 'name="username"' in page and 'type="password"' in page


@pytest.mark.django_db
def test_sign_in_and_out_with_a_password(debug_off, browser, carol):
    browser.get("/accounts/login/")

    wrong = post_form(browser, "/accounts/login/", username="carol", password="wrong")
    assert wrong.status_code == 200
    assert "Please enter a correct username and password" in wrong.content.decode()
    assert signed_in_user_id(browser) is None

    right = post_form(browser, "/accounts/login/", username="carol", password=PASSWORD)
    assert right.status_code == 302 and right["Location"] == "/"  # the feed
    assert signed_in_user_id(browser) == str(carol.pk)
    feed = browser.get("/").content.decode()
    assert 'Signed in as <strong id="username">carol</strong>' in feed
    assert re.search(r'<form id="sign-out" method="post" action="/accounts/logout/">', feed)

    signed_out = post_form(browser, "/accounts/logout/")
    assert signed_out.status_code == 302 and signed_out["Location"] == "/"
    assert signed_in_user_id(browser) is None


async def signed_in_socket(client):
    """A WebSocket through the project's whole ASGI stack, signed in by the
    client's session cookie, as a browser tab's."""
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    headers = [(b"origin", b"http://127.0.0.1"), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    assert (await communicator.connect())[0]
    return communicator


async def reply(communicator, action, **request):
    await communicator.send_json_to({"action": action, "request_id": 1, **request})
    return await communicator.receive_json_from(timeout=5)


async def sign_out(client, user):
    await client.alogout()


async def change_password(client, user):
    user.set_password("a new " + PASSWORD)
    await user.asave()


@pytest.mark.parametrize("end_the_sign_in", [sign_out, change_password])
@pytest.mark.django_db(transaction=True)
async def test_a_socket_stops_writing_once_its_session_no_longer_signs_in(end_the_sign_in, carol):
    """Signed out in another tab, or the password changed: the tab's open socket
    may still read, but its next write is refused with 401 saying why."""
    client = AsyncClient()
    await client.aforce_login(carol)
    socket = await signed_in_socket(client)
    created = await reply(socket, "create", data={"body": "signed in"})
    assert created["response_status"] == 201
    pk = created["data"]["pk"]

    await end_the_sign_in(client, carol)
    for action, request in [
        ("create", {"data": {"body": "signed out"}}),
        ("patch", {"pk": pk, "data": {"body": "edited"}}),
        ("delete", {"pk": pk}),
    ]:
        refused = await reply(socket, action, **request)
        assert (refused["response_status"], refused["errors"]) == (401, [SIGNED_OUT]), action
    assert (await reply(socket, "list"))["response_status"] == 200
    await socket.disconnect()
    assert [post.body async for post in Post.objects.all()] == ["signed in"]


@pytest.mark.django_db
def test_sign_in_returns_to_next_on_this_site_only(debug_off, browser, carol):
    browser.get("/accounts/login/")
    response = post_form(
        browser, "/accounts/login/", username="carol", password=PASSWORD, next="/admin/"
    )
    assert response["Location"] == "/admin/"
    response = post_form(
        browser,
        "/accounts/login/",
        username="carol",
        password=PASSWORD,
        next="https://evil.example/",
    )
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_forms_without_the_csrf_token_are_refused(debug_off, browser, carol):
    browser.get("/accounts/login/")
    response = browser.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 403
    assert signed_in_user_id(browser) is None

    browser.force_login(carol)
    assert browser.post("/accounts/logout/").status_code == 403
    assert signed_in_user_id(browser) == str(carol.pk)


@pytest.mark.django_db
def test_sign_out_takes_a_post_only(debug_off, browser, carol):
    # So that a link or an image on another site cannot sign anyone out.
    browser.force_login(carol)
    assert browser.get("/accounts/logout/").status_code == 405
    assert signed_in_user_id(browser) == str(carol.pk)


@pytest.mark.django_db
def test_with_debug_off_the_feed_offers_the_real_sign_in_only(debug_off, client):
    page = client.get("/").content.decode()
    assert '<a id="password-sign-in" href="/accounts/login/?next=/">Sign in</a>' in page
    assert 'id="sign-in"' not in page  # the development form
    assert client.get("/login/alice/").status_code == 404
    assert client.get("/logout/").status_code == 404


@pytest.mark.django_db
def test_with_debug_on_the_feed_keeps_the_development_form_beside_the_real_sign_in(client):
    page = client.get("/").content.decode()
    assert 'id="sign-in"' in page and 'id="sign-in-name"' in page
    assert 'id="password-sign-in" href="/accounts/login/?next=/"' in page


# Under a proxy's path prefix, through the ASGI application ------------------------

PREFIX = "/user/learner/proxy/absolute/8123"
HUB = [(b"host", b"hub.example.org"), (b"origin", b"https://hub.example.org")]


class ProxiedBrowser:
    """Requests to the project as a hub's path-prefix proxy forwards them
    (config/proxy.py), keeping the cookies it is given, as a browser does."""

    def __init__(self):
        from config.asgi import application

        self.app = PathPrefixProxyMiddleware(application, [PREFIX], trust_host=True)
        self.cookies = SimpleCookie()

    async def request(self, method, path, data=None):
        headers = list(HUB)
        if self.cookies:
            cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in self.cookies.items())
            headers.append((b"cookie", cookie.encode()))
        body = b""
        if data is not None:
            data = {"csrfmiddlewaretoken": self.cookies["csrftoken"].value, **data}
            body = urlencode(data).encode()
            headers.append((b"content-type", b"application/x-www-form-urlencoded"))
        response = await HttpCommunicator(self.app, method, path, body, headers).get_response()
        response["headers"] = [
            (name.decode(), value.decode()) for name, value in response["headers"]
        ]
        for name, value in response["headers"]:
            if name.lower() == "set-cookie":
                self.cookies.load(value)
        return response


def location(response):
    return dict((name.lower(), value) for name, value in response["headers"])["location"]


@pytest.mark.django_db(transaction=True)  # the application's threads read the users
async def test_sign_in_and_out_under_a_path_prefix(carol):
    browser = ProxiedBrowser()
    feed = (await browser.request("GET", PREFIX + "/"))["body"].decode()
    assert f'id="password-sign-in" href="{PREFIX}/accounts/login/?next={PREFIX}/"' in feed

    page = await browser.request("GET", f"{PREFIX}/accounts/login/?next={PREFIX}/")
    assert page["status"] == 200
    assert f'action="{PREFIX}/accounts/login/"' in page["body"].decode()
    assert f'href="{PREFIX}/static/social/feed.css"' in page["body"].decode()

    # Without ?next=, LOGIN_REDIRECT_URL: the feed where this request sees it.
    signed_in = await browser.request(
        "POST", PREFIX + "/accounts/login/", {"username": "carol", "password": PASSWORD}
    )
    assert signed_in["status"] == 302 and location(signed_in) == PREFIX + "/"
    feed = (await browser.request("GET", PREFIX + "/"))["body"].decode()
    assert 'id="username">carol<' in feed
    assert f'action="{PREFIX}/accounts/logout/"' in feed

    signed_out = await browser.request("POST", PREFIX + "/accounts/logout/", {})
    assert signed_out["status"] == 302 and location(signed_out) == PREFIX + "/"
    feed = (await browser.request("GET", PREFIX + "/"))["body"].decode()
    assert 'id="username"' not in feed


# A real server with DEBUG off -------------------------------------------------------

# uvicorn believes X-Forwarded-Proto from the addresses in FORWARDED_ALLOW_IPS
# (loopback by default), which would include these tests. Trusting only an address
# that sends nothing here (TEST-NET-1) leaves the decision to Django's settings.
NO_TRUSTED_PROXY = {"FORWARDED_ALLOW_IPS": "192.0.2.1"}
FROM_TLS_PROXY = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """An SQLite file with a user who has a password, as `createsuperuser` makes one."""
    path = shared_sqlite_database(tmp_path_factory.mktemp("production"))
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        "carol",
        "--email",
        "carol@social.example",
        SQLITE_PATH=path,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    return path


def cookie_attributes(response, name):
    """The attributes of the Set-Cookie header for `name`, lowercased."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return {attribute.strip().split("=")[0].lower() for attribute in header.split(";")[1:]}
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def test_a_deployed_server_has_no_development_sign_in(database):
    # DeployedServer's own profile: plain HTTP on loopback, no redirect.
    with DeployedServer(SQLITE_PATH=database, **NO_TRUSTED_PROXY) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/login/alice/").status_code == 404
            assert http.get("/logout/").status_code == 404
            page = http.get("/accounts/login/", headers=FROM_TLS_PROXY)
            assert page.status_code == 200
            assert {"secure", "samesite"} <= cookie_attributes(page, "csrftoken")
            # The forwarded header is not believed unless the settings say so.
            assert "strict-transport-security" not in page.headers


def test_behind_a_tls_proxy_the_server_redirects_to_https_and_signs_in_securely(database):
    environ = {"DJANGO_SECURE_SSL_REDIRECT": "1", "DJANGO_SECURE_PROXY_SSL_HEADER": "1"}
    with DeployedServer(SQLITE_PATH=database, **environ, **NO_TRUSTED_PROXY) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            plain = http.get("/accounts/login/")
            assert plain.status_code == 301
            assert plain.headers["location"] == f"https://127.0.0.1:{server.port}/accounts/login/"

            page = http.get("/accounts/login/", headers=FROM_TLS_PROXY)
            assert page.status_code == 200
            assert page.headers["strict-transport-security"] == "max-age=31536000"
            assert "secure" in cookie_attributes(page, "csrftoken")
            token = page.cookies["csrftoken"]
            assert http.get("/login/alice/", headers=FROM_TLS_PROXY).status_code == 404

            signed_in = http.post(
                "/accounts/login/",
                data={"username": "carol", "password": PASSWORD, "csrfmiddlewaretoken": token},
                headers={
                    **FROM_TLS_PROXY,
                    # The browser's own origin, as it sends it with a form over HTTPS.
                    "Origin": f"https://127.0.0.1:{server.port}",
                    "Cookie": f"csrftoken={token}",
                },
            )
            assert signed_in.status_code == 302, signed_in.text
            assert signed_in.headers["location"] == "/"
            assert {"secure", "httponly"} <= cookie_attributes(signed_in, "sessionid")
            session = signed_in.cookies["sessionid"]

            feed = http.get("/", headers={**FROM_TLS_PROXY, "Cookie": f"sessionid={session}"})
            assert 'id="username">carol<' in feed.text
