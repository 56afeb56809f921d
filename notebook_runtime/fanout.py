"""The fan-out benchmark: one publisher, S subscribers, real WebSockets on loopback.

    python -m notebook_runtime.fanout [--quick] [--only TARGET ...] [--json results.json]

Each target server runs in its own process; the clients (S subscribers and one
publisher) run in another, this one. The publisher sends `posts` messages, each
carrying its sequence number and send time; every subscriber records when each
arrives. Per target and S: delivered events/s (deliveries over the time from the
first send to the last receipt), the server's CPU time per delivered event, how
busy the server's and the clients' processes were (so a run the clients slowed
shows it), p50 and p99 publish-to-receipt latency, and lost events. The
subscribers are lean (`lean_client`), so that they cost less per event than even
the ceiling. Targets, in one run and one process tree:

- ceiling: a bare `websockets` broadcast server, the most this machine can do;
- bare-channels: a Channels consumer group_sending a prebuilt message (daphne);
- dcrf-article: the source article's consumer on plain DCRF (daphne);
- project-stock-layer: tutorial_project on Channels' own in-memory layer (uvicorn);
- project-daphne: tutorial_project under daphne (what `runserver` uses);
- project: tutorial_project as the README deploys one process (uvicorn,
  websockets-sansio, the project's in-memory layer);
- project-redis: the same with REDIS_URL set, as several processes are deployed
  (needs redis-server; skipped without it);
- project-redis-pubsub: the same on channels_redis's Pub/Sub layer (REDIS_LAYER);
- project-redis-2, project-redis-pubsub-2: each layer with two server processes,
  the subscribers split between them and the publisher on the first (the server
  figures are the two processes' sums).

Three runs: a burst of posts at each S; a steady 50 posts/s to 100 subscribers
(latency under a realistic load); and a loss check: a burst of 1,000 posts to 100
subscribers, one of which reads nothing until the burst is over.

Figures are for comparing targets run side by side, never for asserting in tests.
The full run writes notebooks/results/fanout.json, which notebook 09 plots.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from websockets.asyncio.client import connect as websocket_connect

from .django_setup import PROJECT_DIR
from .lean_client import LeanSubscriber
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
# Where `make bench` writes its full run, for notebook 09 to plot.
SAVED_RESULTS = PROJECT_DIR.parent / "notebooks" / "results" / "fanout.json"
CLIENT_BOUND = 0.9  # CPU-s/s of the clients' process above which they may set the pace


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
    server_us_per_event: float  # the server process's CPU time per delivered event
    server_busy: float  # CPU-s per second of the run, summed over processes: 1.0 is a core
    client_busy: float  # the same for this process, which runs every client


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
    """The server processes under test, and how clients talk to them.

    With several `processes` (sharing a Redis layer), subscribers are dealt out
    among them in turn and the publisher talks to the first, so most events cross
    the layer from one process to another, as behind a load balancer.
    """

    def __init__(self, name: str, protocol: str, command, env=None, cwd=None, processes=1):
        self.name = name
        self.protocol = protocol  # "broadcast": raw texts; "api": the live post API
        self.command = command
        self.env = env
        self.cwd = cwd
        self.processes = processes

    @contextlib.contextmanager
    def start(self):
        with contextlib.ExitStack() as stack:
            self.servers = [
                stack.enter_context(ServerProcess(self.command, env=self.env, cwd=self.cwd))
                for _ in range(self.processes)
            ]
            yield self

    @property
    def urls(self) -> list[str]:
        return [f"ws://{HOST}:{server.port}/ws/" for server in self.servers]

    @property
    def pids(self) -> list[int]:
        return [server.process.pid for server in self.servers]


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
        pubsub_env = {**redis_env, "REDIS_LAYER": "pubsub"}
        for name, layer_env in (("project-redis", redis_env), ("project-redis-pubsub", pubsub_env)):
            found.append(Target(name, "api", project, layer_env, cwd=PROJECT_DIR))
            found.append(
                Target(f"{name}-2", "api", project, layer_env, cwd=PROJECT_DIR, processes=2)
            )
    return found


# Clients -------------------------------------------------------------------------

MARKER = f"#{TAG} ".encode()


async def open_subscribers(urls: list[str], count: int) -> list[LeanSubscriber]:
    """`count` subscribers, dealt out among the servers' `urls` in turn."""
    # One at a time: a connection storm is not what we measure.
    return [
        await LeanSubscriber.connect(urls[number % len(urls)], MARKER) for number in range(count)
    ]


async def subscribe(subscriber: LeanSubscriber, request_id: int) -> None:
    """Follow the benchmark's hashtag through the live post API; wait for the reply."""
    message = {"action": "subscribe_to_hashtag", "hashtag": TAG, "request_id": request_id}
    subscriber.send(json.dumps(message))
    while True:
        reply = json.loads(await subscriber.reply())
        if reply.get("request_id") == request_id:
            if reply.get("response_status") != 201:
                raise RuntimeError(f"subscribing failed: {reply}")
            return


def publisher_cookie(database: str) -> str:
    """A signed-in session for the publisher, made in the shared database (the
    development sign-in view is off, as in production)."""
    return session_cookie("publisher", SQLITE_PATH=database)


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of process `pid` so far. Linux's scheduler counts it
    in nanoseconds (/proc/PID/task/*/schedstat); elsewhere psutil's figure, which
    moves in clock ticks (10 ms), too coarse for a run of a few thousand events."""
    tasks = Path(f"/proc/{pid}/task")
    if tasks.is_dir():
        total = 0
        for task in tasks.iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread ended
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


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
    everything (or given up): a client on a stalled network, say. CPU time is
    read for the server's processes (summed) and for this one (the clients) over
    the same span: from the first publish to the last receipt.
    """
    listeners = await open_subscribers(target.urls, subscribers)
    publisher = await websocket_connect(
        target.urls[0],
        origin=f"http://{HOST}",
        additional_headers={"Cookie": cookie} if cookie else {},
        max_queue=None,  # it never reads its replies during the run
    )
    if target.protocol == "api":
        for number, listener in enumerate(listeners):
            await subscribe(listener, number)
    for listener in listeners[subscribers - stalled :]:
        listener.transport.pause_reading()

    def server_cpu_seconds():
        return sum(cpu_seconds(pid) for pid in target.pids)

    client = os.getpid()
    server_cpu, client_cpu = server_cpu_seconds(), cpu_seconds(client)
    reading = [
        asyncio.create_task(listener.wait_for_events(posts, RECEIVE_IDLE_TIMEOUT))
        for listener in listeners[: subscribers - stalled]
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
    await asyncio.gather(*reading)
    for listener in listeners[subscribers - stalled :]:
        listener.transport.resume_reading()
        await listener.wait_for_events(posts, RECEIVE_IDLE_TIMEOUT)
    received = [listener.received for listener in listeners]
    last = max((receipt for log in received for _, receipt in log), default=started)
    server_cpu, client_cpu = server_cpu_seconds() - server_cpu, cpu_seconds(client) - client_cpu
    for listener in listeners:
        listener.close()
    await publisher.close()
    latencies = sorted(
        (receipt - sent_at[sequence]) * 1000 for log in received for sequence, receipt in log
    )
    delivered = len(latencies)
    elapsed = max(last - started, 1e-9)
    return Result(
        target=target.name,
        subscribers=subscribers,
        posts=posts,
        delivered=delivered,
        lost=subscribers * posts - delivered,
        events_per_second=round(delivered / elapsed, 1),
        p50_ms=round(_percentile(latencies, 50), 2),
        p99_ms=round(_percentile(latencies, 99), 2),
        server_us_per_event=round(server_cpu / max(delivered, 1) * 1e6, 1),
        server_busy=round(server_cpu / elapsed, 2),
        client_busy=round(client_cpu / elapsed, 2),
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


QUICK = Plan(subscriber_counts=(10, 100), burst_posts=30, steady_posts=50, loss_posts=60)
STEADY_SUBSCRIBERS = 100
LOSS_TARGETS = {
    "project",
    "project-redis",
    "project-redis-2",
    "project-redis-pubsub",
    "project-redis-pubsub-2",
    "project-stock-layer",
}
REDIS_TARGETS = {name for name in LOSS_TARGETS if name.startswith("project-redis")}


def run(plan: Plan = Plan(), only=None) -> dict[str, list[Result]]:
    """Run `plan` against every target (or those named in `only`)."""
    return asyncio.run(run_plan(plan, only))


async def run_plan(plan: Plan = Plan(), only=None) -> dict[str, list[Result]]:
    """`run`, for code already in an event loop (a notebook cell: await it)."""
    results = {"burst": [], "steady": [], "loss": []}
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="fanout-") as workdir:
        redis_url = None
        if only is None or REDIS_TARGETS & set(only):
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
    """One row per run. `x ceiling` compares events/s with the ceiling's at the same
    S; `server µs/ev` is the server's CPU time per delivered event, the figure a
    slow client cannot flatter; `busy` columns are CPU seconds per second, so a
    client near 1.0 means the client, not the server, set the pace."""
    ceiling = {r.subscribers: r.events_per_second for r in results if r.target == "ceiling"}
    lines = [
        f"{'target':22} {'S':>5} {'events/s':>9} {'x ceiling':>9} {'server µs/ev':>12} "
        f"{'server busy':>11} {'client busy':>11} {'p50 ms':>8} {'p99 ms':>8} {'lost':>6}"
    ]
    for r in results:
        ratio = (
            f"{r.events_per_second / ceiling[r.subscribers]:.2f}"
            if r.subscribers in ceiling
            else "-"
        )
        lines.append(
            f"{r.target:22} {r.subscribers:>5} {r.events_per_second:>9.0f} {ratio:>9} "
            f"{r.server_us_per_event:>12.1f} {r.server_busy:>11.2f} "
            f"{r.client_busy:>10.2f}{'*' if r.client_busy >= CLIENT_BOUND else ' '} "
            f"{r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.lost:>6}"
        )
    if any(r.client_busy >= CLIENT_BOUND for r in results):
        lines.append(
            f"* the clients' process was {CLIENT_BOUND:.0%} busy or more: that run's events/s is "
            "partly the clients' pace; its server µs/ev is not."
        )
    return "\n".join(lines)


def machine() -> dict:
    """What the figures were measured on, saved with them."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "measured": time.strftime("%Y-%m-%d"),
    }


def save_results(path, plan: Plan, results: dict[str, list[Result]]) -> None:
    document = {"machine": machine(), "plan": asdict(plan)}
    document.update({kind: [asdict(r) for r in rows] for kind, rows in results.items()})
    Path(path).write_text(json.dumps(document, indent=2) + "\n")


def load_results(path=SAVED_RESULTS) -> tuple[dict, dict[str, list[Result]]]:
    """What `save_results` wrote (by default `make bench`'s full run, which notebook
    09 plots): (the machine and plan, the results by run)."""
    document = json.loads(Path(path).read_text())
    about = {key: document.pop(key) for key in ("machine", "plan")}
    return about, {kind: [Result(**row) for row in rows] for kind, rows in document.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="S = 10, 100 and fewer posts (under a minute)"
    )
    parser.add_argument("--only", nargs="*", help="run only these targets")
    parser.add_argument(
        "--json",
        default=str(SAVED_RESULTS),
        help="where to write the results (default: the file notebook 09 plots)",
    )
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
    save_results(args.json, plan, results)
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
