"""Classroom mode: token sign-in on the WebSocket handshake, the class server as
deployed with learners' clients and the projector page, and the practice room a
notebook joins when no class server is set.

The management command that makes the accounts is tested in test_classroom_accounts.
"""

import asyncio
import csv
import io
import json
import os
from datetime import timedelta

import httpx
import pytest
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from playwright.async_api import async_playwright, expect
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from config.asgi import application
from notebook_runtime import SignInRefused, connect
from notebook_runtime.browser import INSTALL_HINT, launch_chromium
from notebook_runtime.classroom import join
from notebook_runtime.processes import DeployedServer, manage, shared_sqlite_database
from social.auth import CLOSE_TOKEN_IN_URL, CLOSE_TOKEN_REFUSED
from social.models import Post

ORIGIN = (b"origin", b"http://127.0.0.1")


async def handshake(*, token=None, path="/ws/"):
    """A WebsocketCommunicator through the project's whole ASGI stack; returns it
    connected, or the close message a refused handshake ends with."""
    headers = [ORIGIN]
    if token is not None:
        headers.append((b"authorization", f"Token {token}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def refusal(communicator):
    message = await communicator.receive_output(timeout=5)
    await communicator.wait()
    return message["type"], message["code"], message["reason"]


# The middleware, in process -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_token_signs_the_connection_in_as_its_user(alice):
    token = await Token.objects.acreate(user=alice)
    communicator = await handshake(token=token.key)
    await communicator.send_json_to(
        {"action": "create", "request_id": 1, "data": {"body": "from a script #workshop"}}
    )
    reply = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert reply["response_status"] == 201
    post = await Post.objects.select_related("author").aget(pk=reply["data"]["pk"])
    assert post.author == alice


@pytest.mark.django_db(transaction=True)
async def test_without_a_token_the_connection_is_anonymous_and_cannot_write():
    communicator = await handshake()
    await communicator.send_json_to({"action": "create", "request_id": 1, "data": {"body": "hi"}})
    reply = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert reply["response_status"] == 403
    assert await Post.objects.acount() == 0


@pytest.mark.django_db(transaction=True)
async def test_an_unknown_token_is_refused_with_4401():
    communicator = await handshake(token="0" * 40)
    assert await refusal(communicator) == (
        "websocket.close",
        CLOSE_TOKEN_REFUSED,
        "unknown or revoked token",
    )


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_token_is_refused(alice):
    key = (await Token.objects.acreate(user=alice)).key
    await Token.objects.filter(key=key).adelete()
    communicator = await handshake(token=key)
    assert (await refusal(communicator))[1:] == (CLOSE_TOKEN_REFUSED, "unknown or revoked token")


@pytest.mark.django_db(transaction=True)
async def test_revoking_a_token_stops_the_writes_of_its_open_connection(alice):
    """An instructor revokes a learner mid-class: the open connection may still
    read, but its next write is refused with 401 saying why, and stores nothing."""
    token = await Token.objects.acreate(user=alice)
    communicator = await handshake(token=token.key)

    async def create(request_id, body):
        await communicator.send_json_to(
            {"action": "create", "request_id": request_id, "data": {"body": body}}
        )
        return await communicator.receive_json_from(timeout=5)

    assert (await create(1, "before"))["response_status"] == 201
    await token.adelete()
    refused = await create(2, "after")
    assert refused["response_status"] == 401, refused
    assert refused["errors"] == ["Your sign-in token no longer works (unknown or revoked token)."]
    await communicator.send_json_to({"action": "list", "request_id": 3})
    assert (await communicator.receive_json_from(timeout=5))["response_status"] == 200
    await communicator.disconnect()
    assert [post.body async for post in Post.objects.all()] == ["before"]


@pytest.mark.django_db(transaction=True)
async def test_an_expired_token_is_refused_saying_when_it_expired(alice, settings):
    settings.SOCIAL_TOKEN_MAX_AGE_DAYS = 7
    token = await Token.objects.acreate(user=alice)
    issued = timezone.now() - timedelta(days=7, minutes=1)
    await Token.objects.filter(pk=token.pk).aupdate(created=issued)
    communicator = await handshake(token=token.key)
    _, code, reason = await refusal(communicator)
    assert code == CLOSE_TOKEN_REFUSED
    assert reason == f"token expired on {issued + timedelta(days=7):%Y-%m-%d %H:%M} UTC"


@pytest.mark.django_db(transaction=True)
async def test_a_deactivated_users_token_is_refused(alice):
    token = await Token.objects.acreate(user=alice)
    alice.is_active = False
    await alice.asave()
    communicator = await handshake(token=token.key)
    assert (await refusal(communicator))[1:] == (CLOSE_TOKEN_REFUSED, "this account is deactivated")


@pytest.mark.django_db(transaction=True)
async def test_a_token_in_the_query_string_is_refused_even_a_valid_one(alice):
    token = await Token.objects.acreate(user=alice)
    communicator = await handshake(path=f"/ws/?token={token.key}")
    _, code, reason = await refusal(communicator)
    assert code == CLOSE_TOKEN_IN_URL
    assert "Authorization header" in reason


# The client, against the notebooks' server ------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_connect_with_a_bad_token_raises_sign_in_refused_saying_why(asgi_server):
    with pytest.raises(SignInRefused, match="unknown or revoked token") as refused:
        await connect(asgi_server, token="not-a-token")
    assert refused.value.code == CLOSE_TOKEN_REFUSED


@pytest.mark.django_db(transaction=True)
async def test_the_practice_room_shows_a_classmates_post_and_yours(monkeypatch, capsys):
    monkeypatch.delenv("SOCIAL_CLASS_URL", raising=False)
    room = await join("", token="")
    try:
        await room.follow("workshop")
        await room.post("Hello from my notebook #workshop")
        await room.post("Not for the room #elsewhere")
        await room.watch(seconds=10)
    finally:
        await room.leave()
    assert [(post["author_username"], post["body"]) for post in room.posts] == [
        ("classmate", "Welcome to the class! Say hello with #workshop."),
        ("you", "Hello from my notebook #workshop"),
    ]
    assert capsys.readouterr().out.splitlines() == [
        "Following #workshop in the practice room (no class server set).",
        "@classmate: Welcome to the class! Say hello with #workshop.",
        "@you: Hello from my notebook #workshop",
    ]
    assert room.projector_url.endswith("/?tag=workshop")


async def test_joining_a_class_without_a_token_says_where_to_find_one():
    with pytest.raises(ValueError, match="CLASS_TOKEN"):
        await join("https://class.example/", token="")


# The class server as deployed ---------------------------------------------------------


def class_accounts(directory, names):
    """A migrated database with an account per name, made by `classroom_accounts`:
    (database, the sheet's CSV rows by name)."""
    database = shared_sqlite_database(directory)
    names_file = directory / "names.txt"
    names_file.write_text("".join(f"{name}\n" for name in names))
    sheet = manage("classroom_accounts", str(names_file), "--format", "csv", SQLITE_PATH=database)
    return database, {row["name"]: row for row in csv.DictReader(io.StringIO(sheet))}


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """tutorial_project as deployed (uvicorn, DEBUG off), with two learners'
    accounts: (server, database, the sheet's rows by name)."""
    directory = tmp_path_factory.mktemp("classroom")
    database, learners = class_accounts(directory, ["Ada Lovelace", "Grace Hopper"])
    with DeployedServer(SQLITE_PATH=database) as server:
        yield server, database, learners


@pytest.fixture
async def projector(class_server):
    """The feed page on #workshop in Chromium, as a guest, as the room's projector."""
    server, _, _ = class_server
    async with async_playwright() as playwright:
        try:
            chromium = await launch_chromium(playwright)
        except RuntimeError:
            if os.environ.get("CI"):
                raise
            pytest.skip(INSTALL_HINT)
        page = await chromium.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(error.message))
        await page.goto(server.url + "/?tag=workshop")
        await expect(page.locator("#status")).to_have_attribute("data-state", "live")
        await expect(page.locator("#filter-list")).to_have_text("#workshop ✕")
        yield page
        await chromium.close()
        assert not errors, errors


async def test_a_learners_post_reaches_the_other_learner_and_the_projector(class_server, projector):
    server, _, learners = class_server
    ada = await connect(server.url, token=learners["Ada Lovelace"]["token"])
    grace = await connect(server.url, token=learners["Grace Hopper"]["token"])
    try:
        for learner in (ada, grace):
            reply = await learner.request("subscribe_to_hashtag", hashtag="workshop")
            assert reply["response_status"] == 201
        reply = await ada.request("create", data={"body": "Hello, room! #workshop"})
        assert reply["response_status"] == 201
        assert reply["data"]["author_username"] == "ada-lovelace"
        event = await grace.next_message(timeout=5)
        assert event == {
            "action": "create",
            "pk": reply["data"]["pk"],
            "data": {"body": "Hello, room! #workshop"},
        }
        await expect(projector.locator("#feed li .body")).to_have_text(["Hello, room! #workshop"])
    finally:
        await ada.close()
        await grace.close()


async def test_the_class_server_refuses_bad_expired_and_revoked_tokens(class_server):
    server, database, learners = class_server
    with pytest.raises(SignInRefused, match="unknown or revoked token"):
        await connect(server.url, token="0" * 40)

    # A token in the URL is refused even when it is valid, so it never reaches a log twice.
    valid = learners["Grace Hopper"]["token"]
    async with websocket_connect(
        f"ws://127.0.0.1:{server.port}/ws/?token={valid}", origin=server.url
    ) as connection:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(connection.recv(), 5)
    assert connection.close_code == CLOSE_TOKEN_IN_URL

    expire = (
        "from datetime import timedelta;"
        "from rest_framework.authtoken.models import Token;"
        f"Token.objects.filter(key={json.dumps(valid)})"
        ".update(created=Token.objects.get(key="
        f"{json.dumps(valid)}).created - timedelta(days=30))"
    )
    manage("shell", "-c", expire, SQLITE_PATH=database)
    with pytest.raises(SignInRefused, match="token expired on"):
        await connect(server.url, token=valid)

    # --revoke, run beside the server, ends a connection already open too: its
    # next write is refused (the token is checked on every write).
    ada = await connect(server.url, token=learners["Ada Lovelace"]["token"])
    try:
        assert (await ada.request("create", data={"body": "Ada, early"}))["response_status"] == 201
        manage("classroom_accounts", "--revoke", SQLITE_PATH=database)
        refused = await ada.request("create", data={"body": "Ada, revoked"})
        assert refused["response_status"] == 401, refused
    finally:
        await ada.close()
    with pytest.raises(SignInRefused, match="unknown or revoked token"):
        await connect(server.url, token=learners["Ada Lovelace"]["token"])


ROOM_SIZE = 200


async def test_one_class_server_holds_a_room_of_token_signed_learners(tmp_path):
    """ROOM_SIZE learners, each on their own account and token, all following
    #workshop: one learner's post reaches every one of them."""
    database, rows = class_accounts(tmp_path, [f"Learner {number}" for number in range(ROOM_SIZE)])
    tokens = [row["token"] for row in rows.values()]
    assert len(set(tokens)) == ROOM_SIZE
    with DeployedServer(SQLITE_PATH=database) as server:
        learners = []
        try:
            for token in tokens:
                learner = await connect(server.url, token=token)
                learners.append(learner)
                reply = await learner.request("subscribe_to_hashtag", hashtag="workshop")
                assert reply["response_status"] == 201
            reply = await learners[0].request("create", data={"body": "Hello, everyone #workshop"})
            assert reply["response_status"] == 201
            events = await asyncio.gather(
                *(learner.next_message(timeout=20) for learner in learners)
            )
            assert {event["pk"] for event in events} == {reply["data"]["pk"]}
        finally:
            await asyncio.gather(*(learner.close() for learner in learners))


async def test_the_class_server_works_as_a_jupyterhub_service_under_its_prefix(tmp_path):
    """The hub's proxy forwards /services/classroom/... with its whole path."""
    database, learners = class_accounts(tmp_path, ["Grace Hopper"])
    prefix = "/services/classroom"
    with DeployedServer(SQLITE_PATH=database, DJANGO_PROXY_PREFIXES=prefix) as server:
        async with httpx.AsyncClient(base_url=server.url + prefix, timeout=10) as http:
            page = await http.get("/?tag=workshop")
            assert page.status_code == 200
            assert f'src="{prefix}/static/social/feed.js"' in page.text
            script = await http.get("/static/social/feed.js")
            assert script.status_code == 200
            assert "class LiveClient" in script.text
        learner = await connect(server.url + prefix + "/", token=learners["Grace Hopper"]["token"])
        try:
            reply = await learner.request("create", data={"body": "Through the hub #workshop"})
            assert reply["response_status"] == 201
            assert reply["data"]["author_username"] == "grace-hopper"
        finally:
            await learner.close()


# The token page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_token_page_shows_your_token_and_replaces_it_on_request(client, alice):
    assert client.get("/accounts/token/").status_code == 302  # a guest is sent to sign in
    client.force_login(alice)
    page = client.get("/accounts/token/")
    token = Token.objects.get(user=alice)
    assert f'CLASS_TOKEN = "{token.key}"' in page.content.decode()
    assert 'CLASS_URL = "http://testserver/"' in page.content.decode()
    again = client.get("/accounts/token/")  # shown again, not replaced
    assert f'CLASS_TOKEN = "{token.key}"' in again.content.decode()

    replaced = client.post("/accounts/token/", follow=True)
    new_token = Token.objects.get(user=alice)
    assert new_token.key != token.key
    assert f'CLASS_TOKEN = "{new_token.key}"' in replaced.content.decode()
