"""The lock that lets one node at a time run a scheduled task (the purge), on a real Redis."""

import threading

from spaces import cluster
from testkit.waiting import wait_until


def test_of_two_contenders_only_one_runs(redis_server):
    node_a, node_b = (cluster.connect(redis_server.url) for _ in "ab")
    ran: list[str] = []
    inside, finish = threading.Event(), threading.Event()

    def purge_on_a():
        with cluster.one_at_a_time(node_a, "purge", timeout=30) as mine:
            if mine:
                ran.append("a")
                inside.set()
                finish.wait(10)

    first = threading.Thread(target=purge_on_a)
    first.start()
    assert inside.wait(5)
    with cluster.one_at_a_time(node_b, "purge", timeout=30) as mine:
        if mine:
            ran.append("b")
    assert ran == ["a"], "b ran while a held the lock"
    finish.set()
    first.join(5)

    with cluster.one_at_a_time(node_b, "purge", timeout=30) as mine:  # a is done: b's turn
        assert mine


def test_a_node_that_dies_holding_the_lock_holds_it_only_until_its_timeout(redis_server):
    node_a, node_b = (cluster.connect(redis_server.url) for _ in "ab")
    dead = cluster.one_at_a_time(node_a, "purge", timeout=0.5)
    assert dead.__enter__()  # and never leaves
    with cluster.one_at_a_time(node_b, "purge", timeout=30) as mine:
        assert not mine

    def b_gets_it():
        with cluster.one_at_a_time(node_b, "purge", timeout=30) as mine:
            return mine

    wait_until(b_gets_it, 5, what="the lock lapsed")


def test_without_redis_the_one_node_always_runs():
    with cluster.one_at_a_time(None, "purge", timeout=30) as mine:
        assert mine


def test_an_unreachable_redis_skips_the_round(redis_server):
    client = cluster.connect(redis_server.url)
    redis_server.stop()
    with cluster.one_at_a_time(client, "purge", timeout=30) as mine:
        assert not mine
