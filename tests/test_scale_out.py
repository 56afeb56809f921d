"""Several server processes joined by a real Redis channel layer; the protocol
suite on a real PostgreSQL. A missing server skips these tests on a learner's
machine (saying how to install it) and fails them when CI is set."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from notebook_runtime import connect
from notebook_runtime.processes import (
    REDIS_HINT,
    ProjectServer,
    RedisServer,
    free_port,
    manage,
    shared_sqlite_database,
)

from .helpers import require

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def redis():
    require(shutil.which("redis-server") is not None, REDIS_HINT)
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return shared_sqlite_database(tmp_path_factory.mktemp("scale-out"))


@pytest.fixture(scope="module", params=["core", "pubsub"])
def redis_layer(request):
    """Each channels_redis layer the settings offer (REDIS_LAYER)."""
    return request.param


@pytest.fixture(scope="module")
def redis_servers(redis, database, redis_layer):
    """Two server processes sharing one database and one Redis."""
    environ = {"SQLITE_PATH": database, "REDIS_URL": redis.url, "REDIS_LAYER": redis_layer}
    with ProjectServer(**environ) as first, ProjectServer(**environ) as second:
        yield first, second


async def first_event_is_sentinel(subscriber, author, tag="sentinel"):
    """Publish a sentinel on the subscriber's own server; True if its event is the
    first one the subscriber receives (so nothing arrived before it)."""
    sentinel = await author.request("create", data={"body": f"#{tag}"})
    event = await subscriber.next_message()
    return event["pk"] == sentinel["data"]["pk"]


async def test_events_cross_processes_through_redis(redis_servers):
    first, second = redis_servers
    async with (
        await connect(first) as bob,
        await connect(second, username="alice") as alice,
    ):
        await bob.request("subscribe_to_hashtag", hashtag="python")
        pk = (await alice.request("create", data={"body": "Across #python"}))["data"]["pk"]
        assert await bob.next_message() == {
            "action": "create",
            "pk": pk,
            "data": {"body": "Across #python"},
        }
        await alice.request("patch", pk=pk, data={"body": "Edited #python"})
        assert await bob.next_message() == {
            "action": "update",
            "pk": pk,
            "data": {"body": "Edited #python"},
        }
        await alice.request("patch", pk=pk, data={"body": "No tag now"})
        assert await bob.next_message() == {"action": "delete", "pk": pk}
        await alice.request("patch", pk=pk, data={"body": "Back to #python"})
        assert (await bob.next_message())["action"] == "create"
        await alice.request("delete", pk=pk)
        assert await bob.next_message() == {"action": "delete", "pk": pk}


async def test_a_management_command_in_a_third_process_reaches_subscribers(
    redis, database, redis_layer, redis_servers
):
    first, _ = redis_servers
    async with await connect(first) as bob:
        await bob.request("subscribe_to_hashtag", hashtag="batch")
        manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import User; from social.models import Post; "
            "Post.objects.create(author=User.objects.get_or_create(username='cron')[0], "
            "body='From a command #batch')",
            SQLITE_PATH=database,
            REDIS_URL=redis.url,
            REDIS_LAYER=redis_layer,
        )
        event = await bob.next_message()
        assert event["action"] == "create" and event["data"] == {"body": "From a command #batch"}


async def test_the_in_memory_layer_does_not_cross_processes(database):
    with (
        ProjectServer(SQLITE_PATH=database) as first,
        ProjectServer(SQLITE_PATH=database) as second,
    ):
        async with (
            await connect(first) as bob,
            await connect(first, username="carol") as carol,
            await connect(second, username="alice") as alice,
        ):
            await bob.request("subscribe_to_hashtag", hashtag="python")
            await bob.request("subscribe_to_hashtag", hashtag="sentinel")
            await alice.request("create", data={"body": "Lost in another process #python"})
            assert await first_event_is_sentinel(bob, carol)


# PostgreSQL --------------------------------------------------------------------

POSTGRES_HINT = (
    "PostgreSQL was not found (initdb, pg_ctl). Install it: `sudo apt install postgresql` "
    "(Debian/Ubuntu), `brew install postgresql` (macOS), or "
    "`conda install -c conda-forge postgresql`; or set DATABASE_URL to a server you have."
)


def postgres_bin():
    """Where initdb and pg_ctl are: on PATH, or in Debian's versioned directory."""
    candidates = [shutil.which("pg_ctl")] + sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True
    )
    found = next((Path(c).resolve() for c in candidates if c), None)
    return found.parent if found else None


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL cluster on a free loopback port (or $TEST_DATABASE_URL)."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    bin_dir = postgres_bin()
    require(bin_dir is not None, POSTGRES_HINT)
    # Not under pytest's tmp_path: as root that is private to root, and PostgreSQL
    # refuses to run as root, so it runs as the postgres user.
    data = Path(tempfile.mkdtemp(prefix="workbook-postgres-"))
    as_owner = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = lambda *command: subprocess.run(  # noqa: E731
        [*as_owner, *command], check=True, capture_output=True, text=True, timeout=120
    )
    run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data / "db"),
        "-o",
        options,
        "-l",
        str(data / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def test_protocol_suite_passes_on_postgresql(postgres_url):
    suite = ["tests/test_api.py", "tests/test_live_events.py", "tests/test_bad_input.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *suite],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": postgres_url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def test_settings_use_postgresql_when_asked(postgres_url):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.db import connection; "
            "print(connection.vendor, connection.cursor().connection.info.server_version > 0)",
        ],
        cwd=ROOT / "tutorial_project",
        env={
            **os.environ,
            "DATABASE_URL": postgres_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["postgresql", "True"], result.stderr
