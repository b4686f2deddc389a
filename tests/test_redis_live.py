"""Live servers with REDIS_URL set, against a real redis-server: one node serves a room and
pushes its changes as before; two nodes on one database share room events, presence and rate
limits. (The in-process path is every other live test.)"""

import contextlib
import json
import time
from pathlib import Path

import pytest
from test_live import open_pages, page, usernames

from spaces import cluster
from spaces.redis_broker import RedisBroker
from testkit.guest import Guest
from testkit.http_user import HttpUser
from testkit.server import LiveServer
from testkit.waiting import stays, wait_until

pytestmark = pytest.mark.live

WITHIN = 5.0


@contextlib.contextmanager
def nodes(data_dir: Path, count: int, **env: str):
    """`count` servers on one data directory (one database, one secret key), one after another
    so the schema is made once."""
    servers = []
    try:
        for _ in range(count):
            servers.append(LiveServer(data_dir, **env).start())
        yield servers
    finally:
        for server in servers:
            server.stop()


def at(server: LiveServer, user: HttpUser) -> HttpUser:
    """The same person (the same session) talking to another node."""
    other = user.clone()
    other.base, other.port = server.url, server.port
    return other


def test_a_node_with_redis_serves_a_room_and_pushes_changes(tmp_path, redis_server):
    watcher = RedisBroker(cluster.connect(redis_server.url), "watcher")
    seen = []
    watcher.subscribe(seen.append)
    watcher.start()
    wait_until(watcher.subscribed.is_set, WITHIN, what="watcher subscribed")
    with nodes(tmp_path / "node", 1, REDIS_URL=redis_server.url) as (server,):
        alice, bob = server.sign_up("alice", "bob")
        space_id = alice.open_space("Over Redis")
        bob.post(f"/spaces/{space_id}/join")
        with open_pages(server, space_id, alice, bob) as (host, _bobs):
            assert bob.post(f"/spaces/{space_id}/request")[0] == 200
            host.until(
                lambda d: (
                    d.by_id("requests") is not None
                    and usernames(d, "requests-heading") == [bob.username]
                ),
                what="bob's request on the host's page",
            )
        # The events went through Redis: another node would have had them.
        wait_until(
            lambda: any(e.space_id == space_id and "requests" in e.sections for e in seen),
            WITHIN,
            what="the request's event on the Redis channel",
        )
    watcher.stop()


def test_two_nodes_share_events_and_presence(tmp_path, redis_server):
    env = {"REDIS_URL": redis_server.url, "PRESENCE_GRACE_SECONDS": "1"}
    with nodes(tmp_path / "shared", 2, **env) as (a, b):
        alice, bob = a.sign_up("alice", "bob")
        space_id = alice.open_space("Two nodes")
        bob.post(f"/spaces/{space_id}/join")
        with page(b, bob, space_id) as bobs_on_b:
            bobs_on_b.full_state()
            # A change made on node a reaches bob's page on node b.
            alice.post(f"/spaces/{space_id}/edit", {"title": "Renamed on a", "description": ""})
            bobs_on_b.until(
                lambda d: d.by_id("space-meta") is not None and d.find("h1").text == "Renamed on a",
                what="the new title on node b",
            )
            # bob's page on node a closes; his page on node b keeps him in the Space past
            # node a's grace period.
            with page(a, bob, space_id) as bobs_on_a:
                bobs_on_a.full_state()
            stays(
                lambda: (
                    a.sql(
                        "SELECT present FROM participants WHERE space_id = ? AND user_id = ?",
                        (space_id, bob.id),
                    )
                    == [(1,)]
                ),
                3,
                what="bob present while his page on node b is open",
            )
        # His last page closed: he leaves after the grace period.
        wait_until(
            lambda: (
                a.sql(
                    "SELECT present FROM participants WHERE space_id = ? AND user_id = ?",
                    (space_id, bob.id),
                )
                == [(0,)]
            ),
            WITHIN,
            what="bob gone once no node has a page of his",
        )


def reaction_on(room_page, within: float = WITHIN) -> dict:
    """The first reaction message (JSON, not a fragment) the page receives within `within`."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = room_page.ws.recv(timeout=left)
        except TimeoutError:
            break
        if message.startswith("{") and json.loads(message).get("type") == "reaction":
            return json.loads(message)
    pytest.fail(f"no reaction within {within}s")


def test_a_reaction_on_one_node_shows_on_the_pages_of_the_other(tmp_path, redis_server):
    with nodes(tmp_path / "shared", 2, REDIS_URL=redis_server.url) as (a, b):
        alice, bob = a.sign_up("alice", "bob")
        space_id = alice.open_space("Claps on two nodes")
        bob.post(f"/spaces/{space_id}/join")
        with page(a, alice, space_id) as hosts_on_a, page(b, bob, space_id) as bobs_on_b:
            hosts_on_a.full_state()
            bobs_on_b.full_state()
            bobs_on_b.ws.send(json.dumps({"type": "react", "reaction": "clap"}))
            seen = reaction_on(hosts_on_a)
            assert (seen["kind"], seen["label"], "mine" in seen) == ("clap", "Clap", False)
            assert reaction_on(bobs_on_b)["mine"] is True  # and once: the echo is not his again
            with pytest.raises(pytest.fail.Exception):
                reaction_on(bobs_on_b, within=1)


def test_a_guest_listening_on_one_node_is_counted_on_the_others_pages(tmp_path, redis_server):
    with nodes(tmp_path / "shared", 2, REDIS_URL=redis_server.url) as (a, b):
        (alice,) = a.sign_up("alice")
        space_id = alice.open_space("A guest on b")
        guest = Guest(b.url)
        guest.listen_to(space_id)
        with page(a, alice, space_id) as hosts_on_a:
            hosts_on_a.full_state()
            guest_page = guest.listen(f"/spaces/{space_id}/live")
            try:
                hosts_on_a.until(lambda d: "1 guest" in listeners_text(d), what="1 guest on a")
                guest_page.stop()
                hosts_on_a.until(lambda d: listeners_text(d) and "guest" not in listeners_text(d))
            finally:
                guest_page.stop()


def listeners_text(doc) -> str:
    section = doc.by_id("listeners")
    return section.text if section is not None else ""


def test_two_nodes_count_against_one_rate_limit(tmp_path, redis_server):
    env = {"REDIS_URL": redis_server.url, "RATELIMIT_ENABLED": "1"}
    with nodes(tmp_path / "shared", 2, **env) as (a, b):
        (alice,) = a.sign_up("alice")
        on = {a: alice, b: at(b, alice)}
        # POST /posts allows 30 a minute from one address: 15 on each node.
        for n in range(30):
            assert on[(a, b)[n % 2]].post("/posts", {"body": f"Post {n}"})[0] == 200, n
        for node in (a, b):
            assert on[node].post("/posts", {"body": "One more"})[0] == 429, node.url


def test_a_change_made_while_redis_was_down_shows_on_the_other_node_once_it_is_back(
    tmp_path, redis_server
):
    with nodes(tmp_path / "shared", 2, REDIS_URL=redis_server.url) as (a, b):
        alice, bob = a.sign_up("alice", "bob")
        space_id = alice.open_space("Before the outage")
        bob.post(f"/spaces/{space_id}/join")
        with open_pages(b, space_id, bob) as (bobs_on_b,):
            redis_server.stop()
            # Made on node a while Redis is down: the event cannot reach node b.
            status, _ = alice.post(
                f"/spaces/{space_id}/edit", {"title": "During the outage", "description": ""}
            )
            assert status == 200
            redis_server.start()
            # Node b subscribes again and re-renders its open rooms in full.
            bobs_on_b.until(
                lambda d: (
                    d.by_id("space-meta") is not None and d.find("h1").text == "During the outage"
                ),
                within=15,
                what="the title changed during the outage, on node b",
            )
        log = a.log_text()  # both nodes write the one data directory's server.log
        assert "lost Redis" in log and "subscribed to Redis again" in log
