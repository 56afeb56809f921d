"""The fan-out benchmark: one publisher, S subscribers, real WebSockets on loopback.

    python -m notebook_runtime.fanout [--quick] [--json results.json]

Each target server runs in its own process; the clients (S subscribers and one
publisher) run in another, this one. The publisher sends `posts` messages, each
carrying its sequence number and send time; every subscriber records when each
arrives. Per target and S: delivered events/s (deliveries over the time from the
first send to the last receipt), p50 and p99 publish-to-receipt latency, and lost
events. Targets, in one run and one process tree:

- ceiling: a bare `websockets` broadcast server, the most this machine can do;
- bare-channels: a Channels consumer group_sending a prebuilt message (daphne);
- dcrf-article: the source article's consumer on plain DCRF (daphne);
- project-stock-layer: tutorial_project on Channels' own in-memory layer (uvicorn);
- project-daphne: tutorial_project under daphne (what `runserver` uses);
- project: tutorial_project as the README deploys one process (uvicorn,
  websockets-sansio, the project's in-memory layer);
- project-redis: the same with REDIS_URL set, as several processes are deployed
  (needs redis-server; skipped without it).

Three runs: a burst of posts at each S; a steady 50 posts/s to 100 subscribers
(latency under a realistic load); and a loss check: a burst of 1,000 posts to 100
subscribers, one of which reads nothing until the burst is over.

Figures are for comparing targets run side by side, never for asserting in tests.
"""

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from websockets.asyncio.client import connect as websocket_connect

from .django_setup import PROJECT_DIR
from .processes import (
    HOST,
    RedisServer,
    ServerProcess,
    deployed_environment,
    project_environment,
    session_cookie,
    shared_sqlite_database,
    uvicorn_command,
)

TAG = "bench"
RECEIVE_IDLE_TIMEOUT = 10.0  # s without any message before a subscriber gives up


@dataclass
class Result:
    target: str
    subscribers: int
    posts: int
    delivered: int
    lost: int
    events_per_second: float
    p50_ms: float
    p99_ms: float


# Targets -------------------------------------------------------------------------

CEILING_SERVER = """
import asyncio, sys
from websockets.asyncio.server import broadcast, serve

async def main(port):
    async def handler(connection):
        async for text in connection:
            broadcast(clients - {connection}, text)
    clients = set()
    async def tracked(connection):
        clients.add(connection)
        try:
            await handler(connection)
        finally:
            clients.discard(connection)
    async with serve(tracked, "127.0.0.1", port, max_queue=None, compression=None):
        await asyncio.get_running_loop().create_future()

asyncio.run(main(int(sys.argv[1])))
"""


class Target:
    """A server process under test, and how clients talk to it."""

    def __init__(self, name: str, protocol: str, command, env=None, cwd=None):
        self.name = name
        self.protocol = protocol  # "broadcast": raw texts; "api": the live post API
        self.command = command
        self.env = env
        self.cwd = cwd

    def start(self) -> ServerProcess:
        process = ServerProcess(self.command, env=self.env, cwd=self.cwd)
        self.port = process.port
        return process

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws/"


def daphne(application: str):
    return lambda port: [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), application]


def uvicorn(application: str):
    """The production command the README documents (chosen by this benchmark)."""
    return lambda port: [*uvicorn_command(port), application]


def targets(database: str, redis_url: str | None = None) -> list[Target]:
    # DEBUG off, as deployed (DEBUG also records every SQL query in memory); the
    # publisher posts far more than a user may per minute.
    env = project_environment(
        **deployed_environment(SQLITE_PATH=database, SOCIAL_POSTS_PER_MINUTE="1000000")
    )
    project = uvicorn("config.asgi:application")
    found = [
        Target(
            "ceiling", "broadcast", lambda port: [sys.executable, "-c", CEILING_SERVER, str(port)]
        ),
        Target(
            "bare-channels", "broadcast", daphne("notebook_runtime.fanout_apps:bare_channels"), env
        ),
        Target("dcrf-article", "api", daphne("notebook_runtime.fanout_apps:article"), env),
        Target(
            "project-stock-layer",
            "api",
            uvicorn("notebook_runtime.fanout_apps:project_on_stock_layer"),
            env,
            cwd=PROJECT_DIR,
        ),
        Target("project-daphne", "api", daphne("config.asgi:application"), env, cwd=PROJECT_DIR),
        Target("project", "api", project, env, cwd=PROJECT_DIR),
    ]
    if redis_url:
        redis_env = {**env, "REDIS_URL": redis_url}
        found.append(Target("project-redis", "api", project, redis_env, cwd=PROJECT_DIR))
    return found


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
    """Send an API request and wait for its reply (no events are expected yet)."""
    await connection.send(json.dumps(message))
    while True:
        reply = json.loads(await connection.recv())
        if reply.get("request_id") == message["request_id"]:
            return reply


async def collect(connection, posts: int, received: list, protocol: str):
    """Record (sequence, receipt time) for each event until all `posts` arrived or
    the connection has been idle too long."""
    seen = 0
    while seen < posts:
        try:
            text = await asyncio.wait_for(connection.recv(), RECEIVE_IDLE_TIMEOUT)
        except TimeoutError:
            return
        now = time.perf_counter()
        message = json.loads(text)
        if protocol == "api":
            if "response_status" in message:
                continue
            body = message["data"]["body"]
        else:
            body = message["body"]
        _, sequence, _ = body.split(" ", 2)
        received.append((int(sequence), now))
        seen += 1


def publisher_cookie(database: str) -> str:
    """A signed-in session for the publisher, made in the shared database (the
    development sign-in view is off, as in production)."""
    return session_cookie("publisher", SQLITE_PATH=database)


async def measure(
    target: Target,
    subscribers: int,
    posts: int,
    rate: float | None,
    cookie: str = "",
    stalled: int = 0,
) -> Result:
    """Fan `posts` out to `subscribers`; `rate` posts/s, or None for a burst.

    The last `stalled` subscribers read nothing until the others have received
    everything (or given up): a client on a stalled network, say.
    """
    headers = {"Cookie": cookie} if cookie else {}
    listeners = await open_connections(target.url, subscribers)
    (publisher,) = await open_connections(target.url, 1, headers)
    if target.protocol == "api":
        for number, listener in enumerate(listeners):
            await request(
                listener, {"action": "subscribe_to_hashtag", "hashtag": TAG, "request_id": number}
            )
    received = [[] for _ in listeners]
    reading = subscribers - stalled
    collectors = [
        asyncio.create_task(collect(listener, posts, log, target.protocol))
        for listener, log in zip(listeners[:reading], received[:reading])
    ]
    sent_at = {}
    started = time.perf_counter()
    for sequence in range(posts):
        body = f"#{TAG} {sequence} payload"
        sent_at[sequence] = time.perf_counter()
        if target.protocol == "api":
            await publisher.send(
                json.dumps({"action": "create", "request_id": sequence, "data": {"body": body}})
            )
        else:
            await publisher.send(json.dumps({"body": body}))
        if rate:
            await asyncio.sleep(max(0.0, started + (sequence + 1) / rate - time.perf_counter()))
    await asyncio.gather(*collectors)
    await asyncio.gather(
        *(
            collect(listener, posts, log, target.protocol)
            for listener, log in zip(listeners[reading:], received[reading:])
        )
    )
    for connection in (*listeners, publisher):
        await connection.close()
    latencies = sorted(
        (receipt - sent_at[sequence]) * 1000 for log in received for sequence, receipt in log
    )
    delivered = len(latencies)
    last = max((receipt for log in received for _, receipt in log), default=started)
    return Result(
        target=target.name,
        subscribers=subscribers,
        posts=posts,
        delivered=delivered,
        lost=subscribers * posts - delivered,
        events_per_second=round(delivered / max(last - started, 1e-9), 1),
        p50_ms=round(_percentile(latencies, 50), 2),
        p99_ms=round(_percentile(latencies, 99), 2),
    )


def _percentile(values, percent):
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
        if len(values) > 1
        else values[0]
    )


# Runs ----------------------------------------------------------------------------


@dataclass
class Plan:
    """What one benchmark run measures."""

    subscriber_counts: tuple = (10, 100, 500, 1000)
    burst_posts: int = 200
    steady_rate: float = 50.0
    steady_posts: int = 250
    loss_posts: int = 1000
    loss_subscribers: int = 100


QUICK = Plan(subscriber_counts=(10, 100), burst_posts=50, steady_posts=75, loss_posts=100)
STEADY_SUBSCRIBERS = 100
LOSS_TARGETS = {"project", "project-redis", "project-stock-layer"}


def run(plan: Plan = Plan(), only=None) -> dict[str, list[Result]]:
    """Run `plan` against every target (or those named in `only`)."""
    return asyncio.run(run_plan(plan, only))


async def run_plan(plan: Plan = Plan(), only=None) -> dict[str, list[Result]]:
    """`run`, for code already in an event loop (a notebook cell: await it)."""
    results = {"burst": [], "steady": [], "loss": []}
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="fanout-") as workdir:
        redis_url = None
        if only is None or "project-redis" in only:
            if shutil.which("redis-server"):
                redis_url = stack.enter_context(RedisServer()).url
            else:
                print("redis-server not found: project-redis skipped", file=sys.stderr)
        database = shared_sqlite_database(workdir)
        cookie = publisher_cookie(database)
        for target in targets(database, redis_url):
            if only and target.name not in only:
                continue
            with target.start():
                for count in plan.subscriber_counts:
                    results["burst"].append(
                        await measure(target, count, plan.burst_posts, None, cookie)
                    )
                results["steady"].append(
                    await measure(
                        target, STEADY_SUBSCRIBERS, plan.steady_posts, plan.steady_rate, cookie
                    )
                )
                if plan.loss_posts and target.name in LOSS_TARGETS:
                    results["loss"].append(
                        await measure(
                            target, plan.loss_subscribers, plan.loss_posts, None, cookie, stalled=1
                        )
                    )
    return results


def table(results: list[Result]) -> str:
    ceiling = {r.subscribers: r.events_per_second for r in results if r.target == "ceiling"}
    lines = [
        f"{'target':19} {'S':>5} {'events/s':>10} {'x ceiling':>9} {'p50 ms':>8} {'p99 ms':>8} {'lost':>6}"
    ]
    for r in results:
        ratio = (
            f"{r.events_per_second / ceiling[r.subscribers]:.2f}"
            if r.subscribers in ceiling
            else "-"
        )
        lines.append(
            f"{r.target:19} {r.subscribers:>5} {r.events_per_second:>10.0f} {ratio:>9} "
            f"{r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.lost:>6}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="S = 10, 100 and fewer posts (under a minute)"
    )
    parser.add_argument("--only", nargs="*", help="run only these targets")
    parser.add_argument("--json", default="fanout-results.json", help="where to write the results")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    results = run(plan, only=set(args.only) if args.only else None)
    print(f"Burst: {plan.burst_posts} posts published without waiting, to S subscribers")
    print(table(results["burst"]))
    print(
        f"\nSteady: {plan.steady_rate:.0f} posts/s for {plan.steady_posts / plan.steady_rate:.0f} s, "
        f"to {STEADY_SUBSCRIBERS} subscribers"
    )
    print(table(results["steady"]))
    if results["loss"]:
        print(
            f"\nLoss: {plan.loss_posts} posts published without waiting, to {plan.loss_subscribers} "
            "subscribers, one of them stalled until the burst is over"
        )
        print(table(results["loss"]))
    with open(args.json, "w") as out:
        json.dump(
            {kind: [asdict(r) for r in rows] for kind, rows in results.items()}, out, indent=2
        )
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
