"""The servers tests and benchmarks start get a port of their own, even when another
process takes the free port they were given before they bind it."""

import socket
import subprocess
import sys
import urllib.request

import pytest

from notebook_runtime import processes
from notebook_runtime.processes import HOST, DeployedServer, PortTaken, ServerProcess


@pytest.fixture
def taken_port():
    """A loopback port another listener holds for the test's duration."""
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_server_whose_free_port_was_taken_starts_again_on_another(taken_port, monkeypatch):
    ports = iter([taken_port])
    real_free_port = processes.free_port
    monkeypatch.setattr(processes, "free_port", lambda: next(ports, None) or real_free_port())

    with DeployedServer() as server:
        assert server.port != taken_port
        assert processes.listens_on(server.process, server.port)
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as response:
            assert response.status == 200


def test_a_port_asked_for_by_number_that_is_taken_is_an_error_that_says_so(taken_port):
    listen = "import socket, sys; socket.create_server(('127.0.0.1', int(sys.argv[1])))"
    with pytest.raises(PortTaken, match=f"{taken_port} is taken"):
        ServerProcess(lambda port: [sys.executable, "-c", listen, str(port)], port=taken_port)


def test_waiting_for_a_child_is_not_fooled_by_another_listener_on_its_port(taken_port):
    """A connection to the port succeeds (someone listens); the child itself does not."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        socket.create_connection((HOST, taken_port), timeout=1).close()
        with pytest.raises(TimeoutError):
            processes.wait_until_listening(taken_port, child, timeout=1)
    finally:
        child.kill()
        child.wait()
