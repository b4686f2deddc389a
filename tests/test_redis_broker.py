"""Room events between two nodes through a real redis-server: each node's subscribers get every
event once, in the order it was published, and keep getting them after Redis restarts."""

import threading

import pytest

from spaces import cluster
from spaces.events import RoomEvent
from spaces.redis_broker import RedisBroker
from testkit.waiting import stays, wait_until

WITHIN = 5.0


class Node:
    """One node's broker and what its subscriber received."""

    def __init__(self, url: str, name: str) -> None:
        self.broker = RedisBroker(cluster.connect(url), name)
        self.received: list[RoomEvent] = []
        self.caught_up = threading.Event()
        self.broker.subscribe(self.received.append)
        self.broker.after_reconnect(self.caught_up.set)
        self.broker.start()
        wait_until(self.broker.subscribed.is_set, WITHIN, what=f"{name} subscribed")
        wait_until(
            self.caught_up.is_set, WITHIN, what=f"{name} caught up at its first subscription"
        )
        self.caught_up.clear()  # from here on: set again only by a reconnect


@pytest.fixture
def nodes(redis_server):
    a, b = Node(redis_server.url, "node-a"), Node(redis_server.url, "node-b")
    yield a, b
    a.broker.stop()
    b.broker.stop()


def event(space_id: int, n: int) -> RoomEvent:
    return RoomEvent(
        space_id,
        sections=frozenset({"stage", "listeners"}),
        users=frozenset({n}),
        notices=((n, f"Notice {n}"),),
        removed=frozenset({n + 1000}),
        left=frozenset({n + 2000}),
        extra={"title": f"Title {n}"},
    )


def test_each_node_gets_every_event_once_in_order(nodes):
    a, b = nodes
    sent_a = [event(1, n) for n in range(50)]
    sent_b = [event(2, n) for n in range(50)]
    for x, y in zip(sent_a, sent_b, strict=True):
        a.broker.publish(x)
        b.broker.publish(y)
    for node in (a, b):
        wait_until(lambda n=node: len(n.received) >= 100, WITHIN, what="all 100 events")
    stays(lambda: len(a.received) == len(b.received) == 100, 0.5, what="no event twice")
    for node in (a, b):
        assert [e for e in node.received if e.space_id == 1] == sent_a
        assert [e for e in node.received if e.space_id == 2] == sent_b
    # A node's own events reach its subscribers at once, on the publishing thread.
    assert a.received[0] == sent_a[0]


def test_events_flow_again_after_redis_restarts(nodes, redis_server):
    a, b = nodes
    a.broker.publish(event(1, 1))
    wait_until(lambda: len(b.received) == 1, WITHIN, what="the first event on node b")

    redis_server.stop()
    wait_until(lambda: not b.broker.subscribed.is_set(), WITHIN, what="node b noticed")
    a.broker.publish(event(1, 2))  # fails at once, logged: only node a's own subscriber has it
    assert [e.users for e in a.received] == [{1}, {2}]

    redis_server.start()  # the same port, nothing kept
    wait_until(b.caught_up.is_set, 15, what="node b subscribed again and caught up")
    wait_until(a.caught_up.is_set, 15, what="node a subscribed again and caught up")
    a.broker.publish(event(1, 3))
    wait_until(lambda: len(b.received) == 2, WITHIN, what="event 3 on node b")
    b.broker.publish(event(1, 4))
    wait_until(lambda: len(a.received) == 4, WITHIN, what="event 4 on node a")
    stays(lambda: len(b.received) == 3, 0.3, what="node b got its own event once")
    assert [set(e.users) for e in b.received] == [{1}, {3}, {4}]
    assert [set(e.users) for e in a.received] == [{1}, {2}, {3}, {4}]


def test_publishing_while_redis_is_down_does_not_hold_the_request(nodes, redis_server):
    a, _b = nodes
    redis_server.stop()
    started = threading.Event()
    done = threading.Event()

    def publish():
        started.set()
        a.broker.publish(event(1, 9))
        done.set()

    threading.Thread(target=publish).start()
    started.wait()
    wait_until(done.is_set, cluster.REDIS_TIMEOUT * 2 + 0.5, what="publish returned")
    assert a.received[-1].users == {9}


def test_the_first_event_after_a_quick_restart_is_not_lost(nodes, redis_server):
    """The publishing connection went stale with the restart; it is made anew, not given up."""
    a, b = nodes
    a.broker.publish(event(1, 1))
    wait_until(lambda: len(b.received) == 1, WITHIN, what="the first event on node b")
    redis_server.restart()
    wait_until(b.caught_up.is_set, 15, what="node b subscribed again")
    a.broker.publish(event(1, 2))
    wait_until(lambda: len(b.received) == 2, WITHIN, what="the event after the restart")


def test_a_node_that_subscribes_late_catches_up_on_what_it_missed(nodes, redis_server):
    """A node serves before Redis confirms its subscription: what other nodes published in
    between never reaches it (Redis keeps nothing), so it re-renders its rooms once subscribed."""
    a, _b = nodes
    late = RedisBroker(cluster.connect(redis_server.url), "node-late")
    received: list[RoomEvent] = []
    caught_up = threading.Event()
    late.subscribe(received.append)
    late.after_reconnect(caught_up.set)
    a.broker.publish(event(1, 1))  # before node-late listens: lost to it
    late.start()
    try:
        wait_until(caught_up.is_set, WITHIN, what="node-late caught up once subscribed")
        a.broker.publish(event(1, 2))
        wait_until(lambda: len(received) == 1, WITHIN, what="event 2 on node-late")
        assert [set(e.users) for e in received] == [{2}]
    finally:
        late.stop()
