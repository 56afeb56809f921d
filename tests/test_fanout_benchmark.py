"""The benchmark harness itself works: every target delivers every event of a tiny
run, a stalled subscriber still gets everything, and the report shows each target's
ratio to the ceiling. (Its figures are compared in `make bench`, never asserted here.)"""

import shutil

from notebook_runtime.fanout import LOSS_TARGETS, Plan, Result, run, table

TINY = Plan(
    subscriber_counts=(3,),
    burst_posts=5,
    steady_rate=50.0,
    steady_posts=5,
    loss_posts=20,
    loss_subscribers=3,
)
TARGETS = [
    "ceiling",
    "bare-channels",
    "dcrf-article",
    "project-stock-layer",
    "project-daphne",
    "project",
    "project-redis",
    "project-redis-2",
    "project-redis-pubsub",
    "project-redis-pubsub-2",
]
if not shutil.which("redis-server"):  # the benchmark skips Redis without it (CI installs it)
    TARGETS = TARGETS[:-4]


def test_every_target_delivers_every_event():
    results = run(TINY)
    assert [r.target for r in results["burst"]] == TARGETS
    assert [r.target for r in results["steady"]] == TARGETS
    assert [r.target for r in results["loss"]] == [t for t in TARGETS if t in LOSS_TARGETS]
    for result in results["burst"]:
        assert isinstance(result, Result)
        assert (result.delivered, result.lost) == (15, 0), result
        assert result.events_per_second > 0 and result.p99_ms >= result.p50_ms > 0
    for result in results["steady"]:
        assert (result.subscribers, result.delivered, result.lost) == (100, 500, 0), result
    for result in results["loss"]:
        assert (result.delivered, result.lost) == (60, 0), result
    assert "x ceiling" in table(results["burst"])
