"""The stress benchmark's harness works: its scenarios, run at tiny sizes against a
deployed server, report counts that agree with each other and no failed check; and
its checks do fail when what they check goes wrong (a lost or repeated event, a
limit that does not answer). Its figures are read in `make stress`, never asserted."""

import pytest

from notebook_runtime import stress
from notebook_runtime.processes import DeployedServer, session_cookie, shared_sqlite_database

# A limits server's values, low so that reaching each takes a few requests.
SMALL_LIMITS = {
    "SOCIAL_POSTS_PER_MINUTE": "5",
    "SOCIAL_MAX_SUBSCRIPTIONS": "3",
    "SOCIAL_CONNECTIONS_PER_USER": "2",
}
SMALL_LIMITS_AS_READ = {"MAX_SUBSCRIPTIONS": 3, "CONNECTIONS_PER_USER": 2}
LOWER_THAN_THE_SERVERS = {"MAX_SUBSCRIPTIONS": 2, "CONNECTIONS_PER_USER": 1}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return shared_sqlite_database(tmp_path_factory.mktemp("stress"))


@pytest.fixture(scope="module")
def publisher(database):
    return session_cookie("publisher", SQLITE_PATH=database)


@pytest.fixture(scope="module")
def flooder(database):
    return session_cookie(stress.FLOODER, SQLITE_PATH=database)


@pytest.fixture(scope="module")
def prober(database):
    return session_cookie("prober", SQLITE_PATH=database)


@pytest.fixture(scope="module")
def load_server(database):
    """As `make stress` runs held, soak and slow reader: no rate limit to speak of,
    SEND_TIMEOUT 2 s."""
    with DeployedServer(SQLITE_PATH=database, **stress.LOAD_LIMITS) as server:
        yield server


@pytest.fixture(scope="module")
def limits_server(database):
    with DeployedServer(SQLITE_PATH=database, **SMALL_LIMITS) as server:
        yield server


def test_delivery_errors_count_missing_repeated_and_unknown_events():
    created = [1, 2, 3]
    nothing_wrong = {"lost": 0, "duplicated": 0, "unexpected": 0}
    assert stress.delivery_errors(created, [[1, 2, 3], [3, 2, 1]]) == nothing_wrong
    errors = stress.delivery_errors(created, [[1, 2, 3], [1, 3, 3, 3], [1, 2, 3, 9]])
    assert errors == {"lost": 1, "duplicated": 2, "unexpected": 1}
    assert stress.delivery_failures("soak", errors) == [
        "soak: 1 events lost",
        "soak: 2 events duplicated",
        "soak: 1 events unexpected",
    ]
    assert stress.delivery_errors(created, [[]]) == {"lost": 3, "duplicated": 0, "unexpected": 0}


def test_the_server_limits_are_read_as_a_server_with_those_variables_sees_them(database):
    limits = stress.server_limits(SQLITE_PATH=database, **SMALL_LIMITS)
    assert limits["POSTS_PER_MINUTE"] == 5
    assert (limits["MAX_SUBSCRIPTIONS"], limits["CONNECTIONS_PER_USER"]) == (3, 2)
    assert limits["MAX_MESSAGE_LENGTH"] == 16 * 1024


async def test_every_held_connection_receives_the_post(load_server, publisher):
    report = await stress.held(load_server, publisher, 5)
    assert report.failures == []
    assert (report.figures["connections"], report.figures["received"]) == (5, 5)
    assert report.figures["rss_held_mib"] > 0 and report.usage.server_cpu_s >= 0


async def test_the_soak_delivers_every_post_once_to_every_subscriber(load_server, publisher):
    report = await stress.soak(load_server, publisher, subscribers=3, posts=30, window=4)
    assert report.failures == []
    figures = report.figures
    assert figures["deliveries"] == 90
    assert (figures["lost"], figures["duplicated"], figures["unexpected"]) == (0, 0, 0)
    assert figures["rss_start_mib"] > 0 and figures["rss_end_over_middle"] > 0


async def test_the_flood_is_accepted_up_to_the_limit_and_refused_beyond(
    limits_server, database, flooder, prober
):
    report = await stress.write_flood(
        limits_server,
        database,
        stress.FLOODER,
        flooder,
        prober,
        limit=5,
        seconds=0.5,
        most=40,
        window=8,
        probe_seconds=0.2,
    )
    assert report.failures == []
    figures = report.figures
    assert (figures["accepted_201"], figures["stored"]) == (5, 5)
    assert figures["accepted_201"] + figures["refused_429"] == figures["creates_sent"] > 5
    assert figures["without_flood_requests"] > 0 and figures["during_flood_requests"] > 0


async def test_each_limit_answers_as_specified(limits_server, publisher):
    report = await stress.refusals(limits_server, publisher, SMALL_LIMITS_AS_READ)
    figures = report.figures
    assert (figures["oversized_status"], figures["after_oversized_status"]) == (413, 200)
    assert (figures["subscriptions_accepted"], figures["one_more_hashtag_status"]) == (3, 429)
    assert figures["one_more_list_status"] == 429
    assert figures["one_more_connection_close_code"] == 4429
    assert figures["held_connection_after_status"] == 200


async def test_subscribing_again_to_a_hashtag_held_is_accepted_when_full(limits_server, publisher):
    report = await stress.refusals(limits_server, publisher, SMALL_LIMITS_AS_READ)
    assert report.figures["resubscribe_status"] == 201
    assert report.failures == []


async def test_a_limit_that_does_not_answer_is_a_failed_check(limits_server, publisher):
    # Told the limits are lower than the server's: the refusals it expects never come.
    report = await stress.refusals(limits_server, publisher, LOWER_THAN_THE_SERVERS)
    assert report.figures["one_more_hashtag_status"] == 201
    assert report.figures["one_more_connection_close_code"] is None
    assert any("subscribe_to_hashtag number 3 got" in failure for failure in report.failures)
    assert any(
        "connection 2 of one user: close code None" in failure for failure in report.failures
    )


async def test_the_slow_reader_is_dropped_and_the_others_receive_everything(load_server, publisher):
    report = await stress.slow_reader(
        load_server, publisher, subscribers=2, rate=100.0, probe_seconds=0.3
    )
    assert report.failures == []
    figures = report.figures
    assert (figures["lost"], figures["duplicated"], figures["unexpected"]) == (0, 0, 0)
    assert figures["dropped_after_s"] >= stress.SEND_TIMEOUT
    assert figures["slow_events_read_in_all"] < figures["slow_events_sent_to_it"]
    assert figures["slow_ended_after_resume_s"] is not None
    assert figures["server_send_queue_kib"] is not None  # the connection was found in /proc/net/tcp
