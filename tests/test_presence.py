"""Presence: whose sockets are open in a Space, on one node (in memory) or on several (in a real
redis-server), and how it lapses when a node stops renewing."""

import time

import pytest

from spaces import cluster
from spaces.presence import LocalPresence, RedisPresence
from testkit.waiting import stays, wait_until

WITHIN = 5.0


def test_local_presence_counts_sockets_per_person():
    presence = LocalPresence()
    presence.hold(1, 10)
    presence.hold(1, 10)  # a second tab
    presence.hold(1, 11)
    presence.hold(2, 12)
    presence.release(1, 10)
    assert presence.present(1) == {10, 11}
    presence.release(1, 10)
    assert presence.present(1) == {11}
    assert presence.elsewhere([(1, 11)]) == set()  # one node: there is no elsewhere


def redis_settled(node: RedisPresence) -> None:
    wait_until(lambda: not node.redis_settling(), node.ttl + WITHIN, what="Redis settled")


@pytest.fixture
def two_nodes(redis_server):
    """Two nodes' presence on one Redis, renewing every 0.3 s with a TTL of 1 s, once Redis has
    been up long enough to say who is elsewhere (before that, nobody leaves)."""
    nodes = [RedisPresence(cluster.connect(redis_server.url), name, ttl=1.0) for name in "ab"]
    redis_settled(nodes[0])
    for node in nodes:
        node.start()
    yield nodes
    for node in nodes:
        node.stop()


def test_presence_spans_nodes(two_nodes):
    a, b = two_nodes
    a.hold(1, 10)
    b.hold(1, 11)
    b.hold(2, 10)
    for node in (a, b):
        wait_until(lambda n=node: n.present(1) == {10, 11}, WITHIN, what="both in Space 1")
    asked = [(1, 10), (1, 11), (2, 10), (2, 11)]
    assert b.elsewhere(asked) == {(1, 10)}
    assert a.elsewhere(asked) == {(1, 11), (2, 10)}
    assert a.present(2) == {10}

    b.release(1, 11)  # their last socket on b closed: gone at once, not after the TTL
    wait_until(lambda: a.present(1) == {10}, 0.5, what="11 gone from Space 1")
    assert a.elsewhere([(1, 11)]) == set()


def test_a_node_that_stops_renewing_lapses_after_the_ttl(two_nodes):
    a, b = two_nodes
    a.hold(1, 10)
    b.hold(1, 11)
    wait_until(lambda: a.present(1) == {10, 11}, WITHIN, what="both present")
    stays(lambda: a.present(1) == {10, 11}, 1.5, what="kept past the TTL while renewed")

    b.stop()  # as a node that died: it removes nothing
    assert a.elsewhere([(1, 11)]) == {(1, 11)}
    wait_until(lambda: a.present(1) == {10}, 1.0 + WITHIN, what="b's people lapsed")
    assert a.elsewhere([(1, 11)]) == set()


def test_presence_comes_back_after_redis_restarts(two_nodes, redis_server):
    a, b = two_nodes
    a.hold(1, 10)
    wait_until(lambda: b.elsewhere([(1, 10)]), WITHIN, what="10 present through a")
    redis_server.restart()  # everything Redis held is gone
    redis_settled(b)  # before that, elsewhere() answers "all of them" (the test below)
    wait_until(lambda: b.elsewhere([(1, 10)]), WITHIN, what="a renewed its people")


def test_nobody_leaves_while_a_restarted_redis_has_not_heard_from_every_node(redis_server):
    a, b = (RedisPresence(cluster.connect(redis_server.url), n, ttl=3.0) for n in "ab")
    a.hold(1, 10)
    a.sync()  # written once; no heartbeat writes it back after the restart
    redis_server.restart()
    assert b.elsewhere([(1, 10), (1, 11)]) == {(1, 10), (1, 11)}, "just restarted: unknown"
    time.sleep(2.1)  # a third of the TTL and a second: a live node has renewed by then
    assert b.elsewhere([(1, 10), (1, 11)]) == set()


def test_unknown_while_redis_is_down_keeps_people(two_nodes, redis_server):
    a, _b = two_nodes
    a.hold(1, 10)
    redis_server.stop()
    assert a.elsewhere([(1, 10), (1, 11)]) == {(1, 10), (1, 11)}, "nobody leaves while unknown"
    assert a.present(1) == {10}, "this node's own people, while Redis cannot say"
