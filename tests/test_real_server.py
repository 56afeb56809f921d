"""The main paths again over real TCP: the runtime's in-process server, and
`manage.py runserver` (daphne) in its own process, as `make serve` runs it."""

import pytest
from websockets.exceptions import InvalidStatus

from notebook_runtime import connect
from notebook_runtime.processes import ProjectServer, shared_sqlite_database

pytestmark = pytest.mark.django_db(transaction=True)


async def check_main_paths(base_url):
    """alice posts, edits and deletes; bob, anonymous and subscribed, sees it live."""
    async with (
        await connect(base_url, username="alice") as alice,
        await connect(base_url) as bob,
    ):
        assert (await bob.request("subscribe_to_hashtag", hashtag="#Python"))[
            "response_status"
        ] == 201
        created = await alice.request("create", data={"body": "Live from #python"})
        assert created["response_status"] == 201
        assert created["data"]["author"] == alice.user_id
        pk = created["data"]["pk"]
        assert await bob.next_message() == {
            "action": "create",
            "pk": pk,
            "data": {"body": "Live from #python"},
        }

        listed = await bob.request("list", body_contains="live")
        assert [post["pk"] for post in listed["data"]] == [pk]
        assert (await bob.request("retrieve", pk=pk))["data"]["body"] == "Live from #python"
        assert (await bob.request("create", data={"body": "nope"}))["response_status"] == 403

        patched = await alice.request("patch", pk=pk, data={"body": "Edited #python"})
        assert patched["response_status"] == 200
        assert await bob.next_message() == {
            "action": "update",
            "pk": pk,
            "data": {"body": "Edited #python"},
        }
        await alice.request("patch", pk=pk, data={"body": "No tag any more"})
        assert await bob.next_message() == {"action": "delete", "pk": pk}
        await alice.request("patch", pk=pk, data={"body": "Back to #python"})
        assert (await bob.next_message())["action"] == "create"

        assert (await alice.request("delete", pk=pk))["response_status"] == 204
        assert await bob.next_message() == {"action": "delete", "pk": pk}


async def test_main_paths_on_the_runtime_server(asgi_server):
    await check_main_paths(asgi_server.url)


async def test_someone_elses_post_is_404_over_the_wire(asgi_server):
    async with (
        await connect(asgi_server, username="alice") as alice,
        await connect(asgi_server, username="bob") as bob,
    ):
        pk = (await alice.request("create", data={"body": "mine"}))["data"]["pk"]
        assert (await bob.request("delete", pk=pk))["response_status"] == 404
        assert (await bob.request("patch", pk=pk, data={"body": "x"}))["response_status"] == 404
        assert (await alice.request("retrieve", pk=pk))["data"]["body"] == "mine"


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
async def test_handshake_from_another_site_is_refused(asgi_server, origin):
    with pytest.raises(InvalidStatus) as refused:
        await connect(asgi_server, origin=origin)
    assert refused.value.response.status_code == 403


async def test_admin_is_served_over_http(asgi_server):
    import asyncio
    import urllib.request

    def fetch():
        with urllib.request.urlopen(f"{asgi_server.url}/admin/login/", timeout=10) as page:
            return page.status, page.read().decode()

    status, html = await asyncio.to_thread(fetch)
    assert status == 200 and "Django administration" in html


# manage.py runserver, as `make serve` runs it -----------------------------------


@pytest.fixture(scope="module")
def runserver(tmp_path_factory):
    """`manage.py migrate` then `manage.py runserver --noreload`, with the venv's
    python, on a database of its own."""
    database = shared_sqlite_database(tmp_path_factory.mktemp("runserver"))
    with ProjectServer(SQLITE_PATH=database) as server:
        yield server.url


async def test_main_paths_on_runserver(runserver):
    await check_main_paths(runserver)


async def test_runserver_refuses_other_origins(runserver):
    with pytest.raises(InvalidStatus) as refused:
        await connect(runserver, origin="http://evil.example")
    assert refused.value.response.status_code == 403
