"""The benchmark harness itself works: every target delivers every event of a tiny
run. (Its figures are compared in `make bench`, never asserted here.)"""
from notebook_runtime.fanout import Result, run, table


def test_every_target_delivers_every_event():
    results = run(subscriber_counts=(3,), posts=5, rate=None)
    assert [r.target for r in results] == ["ceiling", "bare-channels", "dcrf-article", "project-daphne", "project"]
    for result in results:
        assert isinstance(result, Result)
        assert (result.delivered, result.lost) == (15, 0), result
        assert result.events_per_second > 0 and result.p99_ms >= result.p50_ms > 0
    assert "x ceiling" in table(results)
