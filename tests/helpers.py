"""Assertions and helpers shared by the test modules."""

import contextlib
import os

import pytest
from asgiref.sync import sync_to_async

from social.models import Post

ERROR_KEYS = {"errors", "data", "action", "response_status", "request_id"}


async def create_post(author, body: str) -> Post:
    """Save a post the way any Django code would (admin, shell), outside the API."""
    return await sync_to_async(Post.objects.create)(author=author, body=body)


async def post_count() -> int:
    return await Post.objects.acount()


async def assert_no_event_before(session, sentinel_author, sentinel_tag="sentinel"):
    """Prove that no event is waiting for `session`, without sleeping.

    The session must be subscribed to #<sentinel_tag>. A post with that tag is
    published; events reach a connection in order, so if the first event to
    arrive is that post's, nothing else was sent before it.
    """
    sentinel = await create_post(sentinel_author, f"sentinel #{sentinel_tag}")
    event = await session.next_message()
    assert event == {
        "action": "create",
        "pk": sentinel.pk,
        "data": {"body": sentinel.body},
    }, f"expected no event before the sentinel, got {event}"


def assert_error_reply(reply, status=None, request_id=None):
    assert set(reply) == ERROR_KEYS, reply
    assert 400 <= reply["response_status"] < 500, reply
    if status is not None:
        assert reply["response_status"] == status, reply
    assert reply["errors"], reply
    assert reply["data"] is None, reply
    assert reply["request_id"] == request_id, reply


@contextlib.contextmanager
def jupyter_process(command, status_url, *, env=None, cwd=None, timeout=60):
    """Run a Jupyter server (or `make lab`) in its own process group; yield its
    Popen once `status_url` answers 200; stop the whole group afterwards."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so the whole group (make, jupyter) can be stopped
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(status_url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{command[0]} did not start: {process.stderr.read().decode()[-2000:]}"
                )
            time.sleep(0.2)  # polling a bounded deadline, not waiting for luck
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def require(found: bool, hint: str):
    """Skip a test that needs a server this machine lacks, saying how to install
    it; on CI (CI set), fail it instead."""
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs this server: {hint}")
        pytest.skip(hint)
