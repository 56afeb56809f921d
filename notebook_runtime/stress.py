"""The stress benchmark: one deployed server process under load, floods and a slow reader.

    python -m notebook_runtime.stress [--quick] [--json stress-results.json]

`make bench` (fanout.py) asks how fast events fan out. This asks what one server
process deployed as the README deploys it (DeployedServer: uvicorn, DEBUG off, the
project's in-memory channel layer) does when clients push it: what a held
connection costs in memory, whether memory stays flat and nothing is lost over a
long run, and whether each limit of SOCIAL_LIMITS (config/settings.py, enforced in
social/limits.py) answers the client that reaches it without holding up anyone
else. Five scenarios, each against a fresh server process:

1. held: N connections (1,000; QUICK 200), each subscribed to one hashtag, and one
   post, which every one of them must receive. Server RSS before the connections
   and with them held gives the memory one connection costs.
2. soak: P posts (10,000; QUICK 1,000) to S subscribers (100; QUICK 50), published
   with at most `soak_window` posts not yet received by every subscriber: the run
   goes as fast as the server delivers, and no connection's queue can overflow.
   Every subscriber must receive every post exactly once. Server RSS at the start,
   halfway and at the end (flat memory: end/middle near 1), and the server's CPU
   time per delivered event.
3. flood: one signed-in client creates posts as fast as the server answers it, with
   POSTS_PER_MINUTE at its deployed value: how many were accepted (201) and refused
   (429), that the database holds no more of its posts than the limit, and an
   unrelated client's request/reply latency during the flood against before it.
4. slow reader: posts flow at a steady rate to S subscribers; one stops reading. The
   time until the server drops it (SEND_TIMEOUT lowered to 2 s), that the others
   received everything, server RSS during the stall, and an unrelated client's
   latency during the stall against before it.
5. refusals: a 1 MiB frame gets 413 and the connection stays usable; subscription
   MAX_SUBSCRIPTIONS + 1 gets 429; a user's connection CONNECTIONS_PER_USER + 1 is
   closed with 4429.

The clients run in this process. For each scenario the report gives the wall time
and the CPU seconds of the server process and of this one (psutil, from /proc): a
client process near one CPU second per wall second would be the bottleneck, and
the figures would describe the client, not the server. The benchmark exits non-zero,
naming each failed check, if an event was lost or duplicated, a limit did not
answer as specified, or the slow reader was not dropped. Figures are for reading,
never for asserting in tests.
"""

import argparse
import asyncio
import contextlib
import json
import resource
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import psutil
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from .fanout import _percentile
from .processes import (
    HOST,
    DeployedServer,
    deployed_environment,
    manage,
    session_cookie,
    shared_sqlite_database,
)

# The slow reader's SEND_TIMEOUT, lowered from the deployed 10 s to keep the run short.
SEND_TIMEOUT = 2.0
# Servers for load: the publisher posts far more than a user may per minute.
LOAD_LIMITS = {"SOCIAL_POSTS_PER_MINUTE": "1000000000", "SOCIAL_SEND_TIMEOUT": str(SEND_TIMEOUT)}
WAIT = 30.0  # s: the longest any one wait may take (a reply, a connection, a close)
IDLE = 15.0  # s without progress before a run gives up and counts what is missing
STALL_LIMIT = 60.0  # s the slow reader may stay connected before that counts as a failure
CHUNK = 100  # requests (or closes) in flight at once when setting up many connections
PROBE_PAUSE = 0.005  # s between an unrelated client's requests: it samples, it does not load

FLOODER = "flooder"
SOAK_TAG = "soak"
HELD_TAG = "held"
# The slow reader follows 50 hashtags and the whole list, and every post names all 50,
# so that each post is 51 events for it (as in tests/test_limits.py): its buffers fill
# in seconds rather than minutes. The other subscribers follow the list: one event each.
SLOW_TAGS = [f"s{number}" for number in range(50)]
SLOW_BODY = " ".join(f"#{tag}" for tag in SLOW_TAGS)


@dataclass
class Plan:
    """What one benchmark run measures."""

    held_connections: int = 1000
    soak_posts: int = 10_000
    soak_subscribers: int = 100
    soak_window: int = 20  # posts published but not yet received by every subscriber
    flood_seconds: float = 5.0
    flood_creates: int = 20_000  # at most, whatever the time
    flood_window: int = 32  # creates sent and not yet answered
    slow_subscribers: int = 20
    slow_rate: float = 25.0  # posts/s: the server well below saturation before the stall
    probe_seconds: float = 3.0  # an unrelated client's latency without load


QUICK = Plan(
    held_connections=200,
    soak_posts=1_000,
    soak_subscribers=50,
    flood_seconds=3.0,
    slow_subscribers=10,
    probe_seconds=2.0,
)


@dataclass
class Usage:
    """Wall time and CPU seconds (user + system) of the server and the clients."""

    wall_s: float
    server_cpu_s: float
    client_cpu_s: float


@dataclass
class Report:
    """One scenario's figures (named with their unit), resource use and failed checks."""

    scenario: str
    figures: dict
    usage: Usage
    failures: list = field(default_factory=list)


# Measuring the server ------------------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def rss_kib(process: psutil.Process) -> float:
    return process.memory_info().rss / 1024


class Stopwatch:
    """Wall time, and the CPU time of the server process and of this one, since start."""

    def __init__(self, server_process: psutil.Process):
        self.server = server_process
        self.clients = psutil.Process()
        self.started = (time.perf_counter(), cpu_seconds(self.server), cpu_seconds(self.clients))

    def read(self) -> Usage:
        wall, server, clients = self.started
        return Usage(
            wall_s=round(time.perf_counter() - wall, 2),
            server_cpu_s=round(cpu_seconds(self.server) - server, 2),
            client_cpu_s=round(cpu_seconds(self.clients) - clients, 2),
        )


def server_process(server: DeployedServer) -> psutil.Process:
    """The uvicorn process itself (it serves in the process started, no workers)."""
    return psutil.Process(server.process.pid)


def server_limits(**environ: str) -> dict:
    """SOCIAL_LIMITS as a server started with `environ` sees them."""
    code = (
        "import json; from django.conf import settings; print(json.dumps(settings.SOCIAL_LIMITS))"
    )
    return json.loads(
        manage("shell", "-c", code, **deployed_environment(**environ)).splitlines()[-1]
    )


def posts_stored_by(database: str, username: str) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=WAIT)) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM social_post JOIN auth_user ON auth_user.id = social_post.author_id "
            "WHERE auth_user.username = ?",
            (username,),
        ).fetchone()
    return count


def raise_open_file_limit(needed: int) -> None:
    """Each connection is a file descriptor here and one in the server (which inherits
    this process's limit): raise the soft limit to `needed` if the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


# Clients -------------------------------------------------------------------------


async def open_connections(url: str, count: int, headers=None):
    connections = []
    for _ in range(count):  # one at a time: a connection storm is not what we measure
        connections.append(
            await websocket_connect(
                url, origin=f"http://{HOST}", additional_headers=headers or {}, max_queue=None
            )
        )
    return connections


async def request(connection, message: dict) -> dict:
    """Send an API request and wait for its reply (events meanwhile are skipped)."""
    await connection.send(json.dumps(message))
    while True:
        reply = json.loads(await connection.recv())
        if reply.get("request_id") == message["request_id"]:
            return reply


def websocket_url(server: DeployedServer) -> str:
    return f"ws://{HOST}:{server.port}/ws/"


async def connect_many(server: DeployedServer, count: int, cookie: str = "") -> list:
    async with asyncio.timeout(WAIT + count * 0.1):
        return await open_connections(
            websocket_url(server), count, {"Cookie": cookie} if cookie else None
        )


async def call(connection, request_id: int, action: str, **params) -> dict:
    """One request and its reply, within WAIT seconds (events meanwhile are skipped)."""
    async with asyncio.timeout(WAIT):
        return await request(connection, {"action": action, "request_id": request_id, **params})


async def next_reply(connection) -> dict:
    """The next message that is a reply (has a response_status), within WAIT seconds."""
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads(await connection.recv())
            if "response_status" in message:
                return message


async def next_event(connection) -> dict | None:
    """The next message that is an event, or None if none comes within WAIT seconds."""
    try:
        async with asyncio.timeout(WAIT):
            while True:
                message = json.loads(await connection.recv())
                if "response_status" not in message:
                    return message
    except (TimeoutError, ConnectionClosed):
        return None


async def subscribe_all(connections, action: str, **params) -> None:
    """Subscribe every connection, CHUNK requests in flight at a time; raise unless all
    are accepted (201)."""
    for start in range(0, len(connections), CHUNK):
        replies = await asyncio.gather(
            *(
                call(connection, 1, action, **params)
                for connection in connections[start : start + CHUNK]
            )
        )
        refused = [reply for reply in replies if reply["response_status"] != 201]
        if refused:
            raise RuntimeError(f"{action} {params} refused: {refused[0]}")


async def close_all(connections) -> None:
    for start in range(0, len(connections), CHUNK):
        async with asyncio.timeout(WAIT):
            await asyncio.gather(
                *(connection.close() for connection in connections[start : start + CHUNK])
            )


async def create_post(connection, body: str, request_id: int = 1) -> int:
    reply = await call(connection, request_id, "create", data={"body": body})
    if reply["response_status"] != 201:
        raise RuntimeError(f"create refused: {reply}")
    return reply["data"]["pk"]


async def read_events(connection, log: list, on_event=None) -> None:
    """Append each event's pk to `log` (calling `on_event(event)`) until the connection
    closes or the task is cancelled."""
    with contextlib.suppress(ConnectionClosed):
        async for text in connection:
            event = json.loads(text)
            if "response_status" in event:
                continue
            log.append(event["pk"])
            if on_event is not None:
                on_event(event)


async def request_latencies(
    connection, pk: int, seconds: float, stop: asyncio.Event | None = None
) -> list:
    """Round trips (ms) of `retrieve` requests for post `pk`, one at a time, for
    `seconds` or until `stop` is set: an unrelated client's view of the server."""
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and not (stop and stop.is_set()):
        started = time.perf_counter()
        reply = await call(connection, len(latencies), "retrieve", pk=pk)
        latencies.append((time.perf_counter() - started) * 1000)
        if reply["response_status"] != 200:
            raise RuntimeError(f"retrieve failed: {reply}")
        await asyncio.sleep(PROBE_PAUSE)
    return latencies


def latency_figures(name: str, latencies: list) -> dict:
    return {
        f"{name}_requests": len(latencies),
        f"{name}_p50_ms": round(_percentile(sorted(latencies), 50), 2),
        f"{name}_p99_ms": round(_percentile(sorted(latencies), 99), 2),
    }


def p99_ratio(loaded: list, unloaded: list) -> float:
    """How many times longer the slowest 1% of requests took under load than without."""
    return round(_percentile(sorted(loaded), 99) / _percentile(sorted(unloaded), 99), 2)


def delivery_errors(expected_pks, logs) -> dict:
    """Compare what each subscriber received (`logs`: one list of pks per subscriber)
    with the posts created: events missing, received more than once, or of no post."""
    expected = set(expected_pks)
    lost = duplicated = unexpected = 0
    for log in logs:
        counts = Counter(log)
        lost += len(expected - counts.keys())
        duplicated += sum(count - 1 for pk, count in counts.items() if count > 1)
        unexpected += len(counts.keys() - expected)
    return {"lost": lost, "duplicated": duplicated, "unexpected": unexpected}


def delivery_failures(scenario: str, errors: dict) -> list:
    return [f"{scenario}: {count} events {kind}" for kind, count in errors.items() if count]


async def sample_rss(process: psutil.Process, samples: list, interval: float = 0.25) -> None:
    """Append the server's RSS (KiB) to `samples` every `interval` s until cancelled."""
    while True:
        samples.append(rss_kib(process))
        await asyncio.sleep(interval)


# Scenarios -----------------------------------------------------------------------


async def held(server: DeployedServer, publisher_cookie: str, connections: int) -> Report:
    """`connections` subscribers of one hashtag held open, and one post to all of them."""
    process = server_process(server)
    stopwatch = Stopwatch(process)
    (publisher,) = await connect_many(server, 1, publisher_cookie)
    # Warm up first, so that the figure is per connection, not the first one's imports.
    (first,) = await connect_many(server, 1)
    await subscribe_all([first], "subscribe_to_hashtag", hashtag=HELD_TAG)
    await create_post(publisher, f"#{HELD_TAG} warm-up")
    await next_event(first)
    await close_all([first])
    await asyncio.sleep(0.5)
    rss_before = rss_kib(process)

    subscribers = await connect_many(server, connections)
    await subscribe_all(subscribers, "subscribe_to_hashtag", hashtag=HELD_TAG)
    await asyncio.sleep(0.5)
    rss_held = rss_kib(process)

    before_post = Stopwatch(process)
    pk = await create_post(publisher, f"#{HELD_TAG} to everyone")
    events = await asyncio.gather(*(next_event(subscriber) for subscriber in subscribers))
    fan_out = before_post.read()
    received = sum(1 for event in events if event is not None and event["pk"] == pk)
    rss_after_post = rss_kib(process)
    await close_all([*subscribers, publisher])
    await asyncio.sleep(0.5)
    figures = {
        "connections": connections,
        "received": received,
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_held_mib": round(rss_held / 1024, 1),
        "rss_per_connection_kib": round((rss_held - rss_before) / connections, 1),
        "rss_after_post_mib": round(rss_after_post / 1024, 1),
        "rss_after_close_mib": round(rss_kib(process) / 1024, 1),
        "one_post_wall_ms": round(fan_out.wall_s * 1000),
        "one_post_server_cpu_ms": round(fan_out.server_cpu_s * 1000),  # the create and its fan-out
    }
    failures = []
    if received != connections:
        failures.append(f"held: {connections - received} of {connections} missed the post")
    return Report("held", figures, stopwatch.read(), failures)


async def soak(
    server: DeployedServer,
    publisher_cookie: str,
    subscribers: int,
    posts: int,
    window: int,
) -> Report:
    """`posts` posts to `subscribers`, at most `window` of them not yet fully delivered."""
    process = server_process(server)
    listeners = await connect_many(server, subscribers)
    (publisher,) = await connect_many(server, 1, publisher_cookie)
    await subscribe_all(listeners, "subscribe_to_hashtag", hashtag=SOAK_TAG)

    logs = [[] for _ in listeners]
    missing = [subscribers] * posts  # per sequence number: subscribers yet to receive it
    room = asyncio.Semaphore(window)
    completed = 0
    all_delivered = asyncio.Event()
    rss = {"start": rss_kib(process)}

    def received(event):
        nonlocal completed
        sequence = int(event["data"]["body"].split()[1])
        missing[sequence] -= 1
        if missing[sequence] == 0:
            completed += 1
            room.release()
            if completed == posts // 2:
                rss["middle"] = rss_kib(process)
                first_half.append(stopwatch.read())
            if completed == posts:
                all_delivered.set()

    created, refused = {}, []

    async def read_replies():
        with contextlib.suppress(ConnectionClosed):
            async for text in publisher:
                reply = json.loads(text)
                if reply.get("response_status") == 201:
                    created[reply["request_id"]] = reply["data"]["pk"]
                elif "response_status" in reply:
                    refused.append(reply)

    readers = [
        asyncio.create_task(read_events(c, log, received)) for c, log in zip(listeners, logs)
    ]
    replies = asyncio.create_task(read_replies())
    rss_samples = []
    sampler = asyncio.create_task(sample_rss(process, rss_samples))
    failures = []
    first_half = []  # the Usage when half the posts have been delivered
    stopwatch = Stopwatch(process)
    sent = 0
    for sequence in range(posts):
        try:
            async with asyncio.timeout(IDLE):
                await room.acquire()
        except TimeoutError:
            failures.append(
                f"soak: no post fully delivered for {IDLE:.0f} s, after {completed} of {posts}"
            )
            break
        body = f"#{SOAK_TAG} {sequence}"
        message = {"action": "create", "request_id": sequence, "data": {"body": body}}
        async with asyncio.timeout(WAIT):
            await publisher.send(json.dumps(message))
        sent += 1
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(IDLE):
            await all_delivered.wait()
    usage = stopwatch.read()
    rss["end"] = rss_kib(process)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(IDLE):
            while len(created) + len(refused) < sent:
                await asyncio.sleep(0.05)
    for task in (*readers, replies, sampler):
        task.cancel()
    await close_all([*listeners, publisher])

    errors = delivery_errors(created.values(), logs)
    deliveries = sum(len(log) for log in logs)
    failures += delivery_failures("soak", errors)
    if refused or len(created) < posts:
        failures.append(f"soak: {len(created)} of {posts} posts created ({len(refused)} refused)")
    middle = rss.get("middle", float("nan"))
    figures = {
        "subscribers": subscribers,
        "posts": posts,
        "deliveries": deliveries,
        **errors,
        "events_per_second": round(deliveries / max(usage.wall_s, 1e-9)),
        "rss_start_mib": round(rss["start"] / 1024, 1),
        "rss_middle_mib": round(middle / 1024, 1),
        "rss_end_mib": round(rss["end"] / 1024, 1),
        "rss_max_mib": round(max(rss_samples, default=rss["end"]) / 1024, 1),
        "rss_end_over_middle": round(rss["end"] / middle, 3),
        "server_cpu_per_event_us": round(usage.server_cpu_s / max(deliveries, 1) * 1e6, 1),
        "server_cpu_per_post_ms": round(usage.server_cpu_s / max(len(created), 1) * 1e3, 2),
        **halves(first_half, usage, posts),
    }
    return Report("soak", figures, usage, failures)


def halves(first_half: list, whole: Usage, posts: int) -> dict:
    """Server CPU per post in the first and the second half of the soak: a cost that
    grows with the posts already made (a query over them, say) shows as a ratio above 1."""
    if not first_half or posts < 2:
        return {}
    (first,) = first_half
    first_ms = first.server_cpu_s / (posts // 2) * 1e3
    second_ms = (whole.server_cpu_s - first.server_cpu_s) / (posts - posts // 2) * 1e3
    return {
        "server_cpu_per_post_first_half_ms": round(first_ms, 2),
        "server_cpu_per_post_second_half_ms": round(second_ms, 2),
        "second_half_over_first": round(second_ms / max(first_ms, 1e-9), 2),
    }


async def write_flood(
    server: DeployedServer,
    database: str,
    flooder: str,
    flooder_cookie: str,
    prober_cookie: str,
    limit: int,
    seconds: float,
    most: int,
    window: int,
    probe_seconds: float,
) -> Report:
    """User `flooder` creates posts as fast as the server answers (`window` in flight)
    for `seconds` or `most` creates, against a POSTS_PER_MINUTE of `limit`; another
    client times its own requests before and during the flood."""
    process = server_process(server)
    stored_before = posts_stored_by(database, flooder)
    (prober,) = await connect_many(server, 1, prober_cookie)
    pk = await create_post(prober, "an unrelated post, retrieved by an unrelated client")
    without_flood = await request_latencies(prober, pk, probe_seconds)

    (flooding_client,) = await connect_many(server, 1, flooder_cookie)
    statuses = Counter()
    refusals_without_errors = 0
    room = asyncio.Semaphore(window)
    answered_all = asyncio.Event()
    sent = 0
    writing = True

    async def read_replies():
        nonlocal refusals_without_errors
        with contextlib.suppress(ConnectionClosed):
            async for text in flooding_client:
                reply = json.loads(text)
                if "response_status" not in reply:
                    continue
                statuses[reply["response_status"]] += 1
                if reply["response_status"] == 429 and not reply.get("errors"):
                    refusals_without_errors += 1
                room.release()
                if not writing and statuses.total() == sent:
                    answered_all.set()

    replies = asyncio.create_task(read_replies())
    stopwatch = Stopwatch(process)

    async def flood():
        nonlocal sent, writing
        deadline = time.perf_counter() + seconds
        while sent < most and time.perf_counter() < deadline:
            async with asyncio.timeout(WAIT):
                await room.acquire()
            message = {"action": "create", "request_id": sent, "data": {"body": f"flood {sent}"}}
            async with asyncio.timeout(WAIT):
                await flooding_client.send(json.dumps(message))
            sent += 1
        writing = False
        if statuses.total() == sent:
            answered_all.set()
        async with asyncio.timeout(WAIT):
            await answered_all.wait()

    flooding = asyncio.create_task(flood())
    during_flood = await request_latencies(prober, pk, seconds + WAIT, stop=answered_all)
    await flooding
    usage = stopwatch.read()
    replies.cancel()
    await close_all([prober, flooding_client])

    stored = posts_stored_by(database, flooder) - stored_before
    accepted, refused = statuses[201], statuses[429]
    failures = []
    if not refused:
        failures.append(f"flood: no create refused (429) in {sent}, limit {limit}")
    if stored > limit:
        failures.append(f"flood: {stored} posts stored, beyond the limit of {limit}")
    if stored != accepted:
        failures.append(f"flood: {accepted} creates accepted but {stored} posts stored")
    if accepted + refused != sent:
        failures.append(
            f"flood: {sent} sent, {accepted} accepted, {refused} refused: {dict(statuses)}"
        )
    if refusals_without_errors:
        failures.append(f"flood: {refusals_without_errors} refusals carried no errors")
    figures = {
        "posts_per_minute_limit": limit,
        "creates_sent": sent,
        "accepted_201": accepted,
        "refused_429": refused,
        "stored": stored,
        "creates_per_second": round(sent / max(usage.wall_s, 1e-9)),
        "server_cpu_per_create_ms": round(usage.server_cpu_s / max(sent, 1) * 1e3, 2),
        **latency_figures("without_flood", without_flood),
        **latency_figures("during_flood", during_flood),
    }
    figures["p99_during_over_without"] = p99_ratio(during_flood, without_flood)
    return Report("flood", figures, usage, failures)


async def connect_small_buffer(server: DeployedServer):
    """A client connection with a 4 KiB receive buffer (set before connecting, so the
    window stays small) and a one-message queue: when it stops reading, the server's
    sends back up soon. No keepalive pings of its own, which it could not read the
    answers to while stalled."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect((HOST, server.port))
    sock.setblocking(False)
    async with asyncio.timeout(WAIT):
        return await websocket_connect(
            websocket_url(server),
            sock=sock,
            origin=f"http://{HOST}",
            max_queue=1,
            ping_interval=None,
        )


def dropped_in_log(server: DeployedServer, client_port: int) -> bool:
    """Has the server logged that it dropped the connection from `client_port`?"""
    address = f"{HOST}:{client_port}:"
    return any(address in line and "SEND_TIMEOUT" in line for line in server.output().splitlines())


def server_socket_open(process: psutil.Process, client_port: int) -> bool:
    """Does the server still hold a TCP socket connected to `client_port`?"""
    return any(c.raddr and c.raddr.port == client_port for c in process.net_connections(kind="tcp"))


def kernel_queues(server_port: int, client_port: int) -> dict:
    """Bytes the kernel holds for the loopback connection between the two ports, from
    /proc/net/tcp: sent by the server and not yet acknowledged (its send queue), and
    received by the client and not yet read (its receive queue). Linux only."""
    queues = {"server_send_queue_kib": None, "client_receive_queue_kib": None}
    with contextlib.suppress(OSError):
        with open("/proc/net/tcp") as table:
            for line in table.readlines()[1:]:
                local, remote, _, tx_rx = line.split()[1:5]
                ports = (int(local.split(":")[1], 16), int(remote.split(":")[1], 16))
                tx_queue, rx_queue = (int(value, 16) for value in tx_rx.split(":"))
                if ports == (server_port, client_port):
                    queues["server_send_queue_kib"] = round(tx_queue / 1024)
                elif ports == (client_port, server_port):
                    queues["client_receive_queue_kib"] = round(rx_queue / 1024)
    return queues


async def slow_reader(
    server: DeployedServer,
    publisher_cookie: str,
    subscribers: int,
    rate: float,
    probe_seconds: float,
) -> Report:
    """Posts at `rate` to `subscribers` and to a slow reader, which stops reading after
    `probe_seconds`; an unrelated client times its requests before and during the stall."""
    process = server_process(server)
    stopwatch = Stopwatch(process)
    (publisher,) = await connect_many(server, 1, publisher_cookie)
    (prober,) = await connect_many(server, 1)
    pk = await create_post(publisher, "an unrelated post, retrieved by an unrelated client")
    slow = await connect_small_buffer(server)
    slow_port = slow.local_address[1]
    await subscribe_all([slow], "subscribe_to_list")
    for tag in SLOW_TAGS:
        await subscribe_all([slow], "subscribe_to_hashtag", hashtag=tag)
    others = await connect_many(server, subscribers)
    await subscribe_all(others, "subscribe_to_list")

    logs = [[] for _ in others]
    slow_log = []
    readers = [asyncio.create_task(read_events(c, log)) for c, log in zip(others, logs)]
    slow_reading = asyncio.create_task(read_events(slow, slow_log))
    created = []
    publishing = asyncio.Event()
    publishing.set()

    async def publish():
        started = time.perf_counter()
        sequence = 0
        while publishing.is_set() and sequence < rate * (STALL_LIMIT + WAIT):
            created.append(
                await create_post(publisher, f"{SLOW_BODY} {sequence}", request_id=sequence)
            )
            sequence += 1
            await asyncio.sleep(max(0.0, started + sequence / rate - time.perf_counter()))

    publisher_task = asyncio.create_task(publish())
    without_stall = await request_latencies(prober, pk, probe_seconds)
    rss_before = rss_kib(process)

    slow.transport.pause_reading()
    stalled_at = time.perf_counter()
    dropped = asyncio.Event()
    rss_during_stall = []

    async def watch_for_drop():
        while time.perf_counter() - stalled_at < STALL_LIMIT:
            rss_during_stall.append(rss_kib(process))
            if dropped_in_log(server, slow_port):
                dropped.set()
                return
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_for_drop())
    during_stall = await request_latencies(prober, pk, STALL_LIMIT, stop=dropped)
    await watcher
    dropped_after = time.perf_counter() - stalled_at
    socket_open_at_drop = server_socket_open(process, slow_port)
    slow_events_before_resume = len(slow_log)
    await asyncio.sleep(1.0)  # the others go on receiving after the drop
    publishing.clear()
    buffered_after_drop = kernel_queues(server.port, slow_port)
    async with asyncio.timeout(WAIT):
        await publisher_task
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(IDLE):
            while min(map(len, logs)) < len(created):
                await asyncio.sleep(0.05)
    usage = stopwatch.read()
    rss_after = rss_kib(process)
    socket_open_before_resume = server_socket_open(process, slow_port)

    slow.transport.resume_reading()  # what the server had buffered, then the end
    resumed_at = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(WAIT):
            await slow_reading
    slow_ended_after_resume = (
        round(time.perf_counter() - resumed_at, 2) if slow_reading.done() else None
    )
    socket_closed_after_resume = None
    while time.perf_counter() - resumed_at < WAIT:
        if not server_socket_open(process, slow_port):
            socket_closed_after_resume = round(time.perf_counter() - resumed_at, 2)
            break
        await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    slow_reading.cancel()
    await close_all([*others, prober, publisher])

    errors = delivery_errors(created, logs)
    failures = delivery_failures("slow reader: the other subscribers", errors)
    if not dropped.is_set():
        failures.append(f"slow reader: not dropped within {STALL_LIMIT:.0f} s of its stall")
    if slow_ended_after_resume is None:
        failures.append(
            f"slow reader: its connection had not ended {WAIT:.0f} s after it read again"
        )
    figures = {
        "send_timeout_s": SEND_TIMEOUT,
        "other_subscribers": subscribers,
        "posts_per_second": rate,
        "posts": len(created),
        **errors,
        "dropped_after_s": round(dropped_after, 2) if dropped.is_set() else None,
        "server_socket_open_at_drop": socket_open_at_drop,
        "server_socket_open_before_resume": socket_open_before_resume,
        **buffered_after_drop,
        "server_socket_closed_after_resume_s": socket_closed_after_resume,
        "slow_events_read_before_stall_end": slow_events_before_resume,
        "slow_events_read_in_all": len(slow_log),
        "slow_events_sent_to_it": 51 * len(created),
        "slow_ended_after_resume_s": slow_ended_after_resume,
        "slow_close_code": slow.close_code,
        "channel_full_logged": server.output().count(" is full "),
        "rss_before_stall_mib": round(rss_before / 1024, 1),
        "rss_max_during_stall_mib": round(max(rss_during_stall, default=rss_before) / 1024, 1),
        "rss_after_drop_mib": round(rss_after / 1024, 1),
        **latency_figures("without_stall", without_stall),
        **latency_figures("during_stall", during_stall),
    }
    figures["p99_during_over_without"] = p99_ratio(during_stall, without_stall)
    return Report("slow reader", figures, usage, failures)


async def refusals(server: DeployedServer, user_cookie: str, limits: dict) -> Report:
    """Each per-connection limit reached once: message length, subscriptions, connections."""
    process = server_process(server)
    stopwatch = Stopwatch(process)
    failures = []
    (client,) = await connect_many(server, 1)

    oversized = json.dumps({"action": "list", "request_id": 1, "pad": "x" * 1024 * 1024})
    sent_at = time.perf_counter()
    async with asyncio.timeout(WAIT):
        await client.send(oversized)
    too_long = await next_reply(client)
    too_long_ms = (time.perf_counter() - sent_at) * 1000
    after_too_long = await call(client, 2, "list", body_contains="nothing has this text")
    if too_long["response_status"] != 413 or not too_long.get("errors"):
        failures.append(f"refusals: a {len(oversized)}-character frame got {too_long}")
    if after_too_long["response_status"] != 200:
        failures.append(f"refusals: after the 413, a list got {after_too_long}")

    most = limits["MAX_SUBSCRIPTIONS"]
    statuses = [
        (await call(client, number, "subscribe_to_hashtag", hashtag=f"r{number}"))[
            "response_status"
        ]
        for number in range(most)
    ]
    again = await call(
        client, most, "subscribe_to_hashtag", hashtag="r0"
    )  # held already: no room taken
    one_too_many = await call(client, most + 1, "subscribe_to_hashtag", hashtag=f"r{most}")
    list_too_many = await call(client, most + 2, "subscribe_to_list")
    if statuses != [201] * most:
        failures.append(f"refusals: the first {most} subscriptions got {Counter(statuses)}")
    if again["response_status"] != 201:
        failures.append(
            f"refusals: subscribing again to a hashtag held got {again['response_status']}"
        )
    for name, reply in (
        ("subscribe_to_hashtag", one_too_many),
        ("subscribe_to_list", list_too_many),
    ):
        if reply["response_status"] != 429 or not reply.get("errors"):
            failures.append(f"refusals: {name} number {most + 1} got {reply}")

    most_connections = limits["CONNECTIONS_PER_USER"]
    allowed = await connect_many(server, most_connections, user_cookie)
    (extra,) = await connect_many(server, 1, user_cookie)
    # A request: a reply to it means that the server kept the connection.
    with contextlib.suppress(ConnectionClosed):
        await call(extra, 1, "list", body_contains="nothing has this text")
    extra_close_code = extra.close_code  # before this client closes it
    still_served = await call(allowed[-1], 1, "list", body_contains="nothing has this text")
    if extra_close_code != 4429:
        failures.append(
            f"refusals: connection {most_connections + 1} of one user: close code {extra_close_code}"
        )
    if still_served["response_status"] != 200:
        failures.append(f"refusals: connection {most_connections} of that user got {still_served}")
    await close_all([client, *allowed, extra])
    figures = {
        "oversized_frame_chars": len(oversized),
        "oversized_status": too_long["response_status"],
        "oversized_reply_ms": round(too_long_ms, 1),
        "after_oversized_status": after_too_long["response_status"],
        "max_subscriptions": most,
        "subscriptions_accepted": statuses.count(201),
        "resubscribe_status": again["response_status"],
        "one_more_hashtag_status": one_too_many["response_status"],
        "one_more_list_status": list_too_many["response_status"],
        "connections_per_user": most_connections,
        "one_more_connection_close_code": extra_close_code,
        "held_connection_after_status": still_served["response_status"],
    }
    return Report("refusals", figures, stopwatch.read(), failures)


# Runs ----------------------------------------------------------------------------


def run(plan: Plan = Plan()) -> list[Report]:
    """Every scenario of `plan`, each against a fresh DeployedServer, in one database."""
    raise_open_file_limit(2 * plan.held_connections + 200)
    reports = []
    with tempfile.TemporaryDirectory(prefix="stress-") as workdir:
        database = shared_sqlite_database(workdir)
        publisher_cookie, flooder_cookie, prober_cookie = (
            session_cookie(name, SQLITE_PATH=database) for name in ("publisher", FLOODER, "prober")
        )
        load = {"SQLITE_PATH": database, **LOAD_LIMITS}
        deployed = {"SQLITE_PATH": database}  # every limit at its deployed value
        limits = server_limits(**deployed)

        with DeployedServer(**load) as server:
            scenario = held(server, publisher_cookie, plan.held_connections)
            reports.append(asyncio.run(scenario))
        with DeployedServer(**load) as server:
            scenario = soak(
                server, publisher_cookie, plan.soak_subscribers, plan.soak_posts, plan.soak_window
            )
            reports.append(asyncio.run(scenario))
        with DeployedServer(**deployed) as server:
            scenario = write_flood(
                server,
                database,
                FLOODER,
                flooder_cookie,
                prober_cookie,
                limits["POSTS_PER_MINUTE"],
                plan.flood_seconds,
                plan.flood_creates,
                plan.flood_window,
                plan.probe_seconds,
            )
            reports.append(asyncio.run(scenario))
        with DeployedServer(**load) as server:
            scenario = slow_reader(
                server, publisher_cookie, plan.slow_subscribers, plan.slow_rate, plan.probe_seconds
            )
            reports.append(asyncio.run(scenario))
        with DeployedServer(**deployed) as server:
            reports.append(asyncio.run(refusals(server, publisher_cookie, limits)))
    return reports


def usage_table(reports: list[Report]) -> str:
    """CPU seconds per wall second ("busy") near 1.0 means a process used a whole core:
    the server should be the busier of the two."""
    lines = [
        f"{'scenario':12} {'wall s':>8} {'server CPU s':>13} {'server busy':>12} "
        f"{'client CPU s':>13} {'client busy':>12} {'checks':>7}"
    ]
    for r in reports:
        wall = max(r.usage.wall_s, 1e-9)
        checks = "ok" if not r.failures else f"{len(r.failures)} FAIL"
        lines.append(
            f"{r.scenario:12} {r.usage.wall_s:>8.2f} {r.usage.server_cpu_s:>13.2f} "
            f"{r.usage.server_cpu_s / wall:>12.2f} {r.usage.client_cpu_s:>13.2f} "
            f"{r.usage.client_cpu_s / wall:>12.2f} {checks:>7}"
        )
    return "\n".join(lines)


def figures_table(reports: list[Report]) -> str:
    lines = [f"{'scenario':12} {'figure':36} {'value':>12}"]
    for r in reports:
        for name, value in r.figures.items():
            lines.append(f"{r.scenario:12} {name:36} {str(value):>12}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (under a minute)")
    parser.add_argument("--json", default="stress-results.json", help="where to write the results")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    started = time.perf_counter()
    reports = run(plan)
    print(figures_table(reports))
    print()
    print(usage_table(reports))
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    with open(args.json, "w") as out:
        json.dump({"plan": asdict(plan), "reports": [asdict(r) for r in reports]}, out, indent=2)
    print(f"wrote {args.json}")
    failures = [failure for r in reports for failure in r.failures]
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
