"""Edge nodes (spaces/edge) against a real redis-server: a core with EDGE_URLS, two edges, and
clients that go where the core sends them (testkit/edge.py)."""

import contextlib
import json
import time

import pytest
import redis

from spaces import audio_wire, grants
from spaces.cli.api import Api, SpaceURL
from spaces.cli.link import AudioLink
from spaces.cli.protocol import V2_QUERY as CLI_V2_QUERY
from spaces.edge.mix_channel import mix_channel
from spaces.realtime.close_codes import ENDED, LEFT, REMOVED
from spaces.realtime.message_rate import MAX_MESSAGES_PER_SECOND
from testkit.audio import audible, speech
from testkit.edge import LiveEdge, audio_addresses, dial_audio, dial_live
from testkit.html_query import parse
from testkit.listen import Ear
from testkit.opus_wire import V2_QUERY, OpusWire
from testkit.passwords import PASSWORD
from testkit.redis_server import RedisServer
from testkit.server import LiveServer, free_port
from testkit.speak import Mouth
from testkit.waiting import wait_until
from testkit.websocket import Closed, Refused, WebSocket

pytestmark = pytest.mark.live

WITHIN = 5.0  # generous: the measured figure is bench/scaleout.py's removal_s


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(core, [edge, edge], Redis): one deployment on this machine, shared by the module's tests
    (each opens a Space of its own); the tests that kill an edge start it again."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    redis_server = RedisServer(tmp_path / "redis").start()
    ports = [free_port(), free_port()]
    env = {"REDIS_URL": redis_server.url, "PRESENCE_GRACE_SECONDS": "2"}
    edge_urls = ",".join(f"ws://127.0.0.1:{port}" for port in ports)
    core = LiveServer(tmp_path / "core", EDGE_URLS=edge_urls, **env).start()
    key = core._secret_key()
    edges = []
    try:
        for n, port in enumerate(ports):
            edges.append(LiveEdge(tmp_path / f"edge{n}", redis_server.url, key, port).start())
        yield core, edges, redis_server
    finally:
        for edge in edges:
            edge.stop()
        core.stop()
        redis_server.stop()


@pytest.fixture
def room(cluster, sockets):
    """A live Space on the core: its host, whose page holds the core's audio socket (the room
    ticks on the core from then on), and a listener who joined."""
    core, _edges, _redis = cluster
    host, listener = core.sign_up("host", "listener")  # new names each time (a suffix)
    space_id = host.open_space("Across nodes")
    listener.act(f"/spaces/{space_id}/join")
    Ear(sockets.enter_context(host.websocket(f"/spaces/{space_id}/audio")))
    return host, listener, space_id


@pytest.fixture
def sockets():
    with contextlib.ExitStack() as stack:
        yield stack


def edge_path(space_id: int, token: str) -> str:
    return f"/spaces/{space_id}/audio?grant={token}"


def test_the_core_sends_listeners_to_an_edge_and_speakers_to_itself(cluster, room):
    _core, edges, _redis = cluster
    host, listener, space_id = room
    assert audio_addresses(host, space_id) == []
    urls = audio_addresses(listener, space_id)
    assert sorted(url.split("/spaces/")[0] for url in urls) == sorted(e.url for e in edges)
    assert all(f"/spaces/{space_id}/audio?grant=" in url for url in urls)


def test_an_edge_admits_a_granted_listener_and_refuses_the_rest(cluster, room, sockets):
    core, (edge, _other), _redis = cluster
    _host, listener, space_id = room
    key = core._secret_key()
    uid, sid = listener.id, space_id
    refusals = {
        "no grant": (f"/spaces/{sid}/audio", 401),
        "forged": (edge_path(sid, grants.issue("not-the-key", uid, sid, "listener")), 403),
        "expired": (edge_path(sid, grants.issue(key, uid, sid, "listener", seconds=-1)), 403),
        "another Space": (edge_path(sid + 1, grants.issue(key, uid, sid, "listener")), 403),
        "a speaker's": (edge_path(sid, grants.issue(key, uid, sid, "speaker")), 403),
        "a format nobody speaks": (
            edge_path(sid, grants.issue(key, uid, sid, "listener")) + "&v=2&codec=mp3",
            400,
        ),
    }
    for what, (path, status) in refusals.items():
        with pytest.raises(Refused) as refused:
            WebSocket.connect(edge.port, path)
        assert refused.value.status == status, what
    granted = edge_path(space_id, grants.issue(key, listener.id, space_id, "listener"))
    ws = sockets.enter_context(WebSocket.connect(edge.port, granted))
    assert ws.recv(timeout=5) is not None  # the mix arrives (silence: nobody speaks yet)


def test_a_v1_listener_on_an_edge_hears_the_same_bytes_as_one_on_the_core(cluster, room, sockets):
    core, _edges, _redis = cluster
    host, listener, space_id = room
    (near,) = core.sign_up("near")
    near.act(f"/spaces/{space_id}/join")
    host.act(f"/spaces/{space_id}/mic", {"on": "1"})
    mouth = Mouth(sockets.enter_context(host.websocket(f"/spaces/{space_id}/audio")), speech(0))
    on_core = Ear(sockets.enter_context(near.websocket(f"/spaces/{space_id}/audio")))
    on_edge = Ear(sockets.enter_context(dial_audio(listener, space_id)))
    try:
        wait_until(lambda: len(on_edge.frames) >= 150, within=15, what="3 s on the edge")
    finally:
        mouth.stop()
        on_core.stop()
        on_edge.stop()
    core_frames = [data for _t, data in on_core.frames]
    edge_frames = [data for _t, data in on_edge.frames[50:150]]
    assert len(set(edge_frames)) > 50  # speech: the frames differ from each other
    start = core_frames.index(edge_frames[0])
    # The core's listener was stopped once the edge's had 150 frames: its last may be in flight.
    same_span = core_frames[start : start + len(edge_frames)]
    assert len(same_span) >= 90
    assert same_span == edge_frames[: len(same_span)]


def test_opus_listeners_on_both_edges_get_the_cores_messages_with_every_sequence_number(
    cluster, room, sockets
):
    core, edges, _redis = cluster
    host, listener, space_id = room
    near, second = core.sign_up("near", "second")  # ids next to each other: the other edge first
    for person in (near, second):
        person.act(f"/spaces/{space_id}/join")
    host.act(f"/spaces/{space_id}/mic", {"on": "1"})
    mouth = Mouth(sockets.enter_context(host.websocket(f"/spaces/{space_id}/audio")), speech(2))
    on_core = Ear(
        sockets.enter_context(near.websocket(f"/spaces/{space_id}/audio?{V2_QUERY}")),
        wire=OpusWire(),
    )
    dialled = [sockets.enter_context(dial_audio(p, space_id, V2_QUERY)) for p in (near, second)]
    assert {ws.sock.getpeername()[1] for ws in dialled} == {edge.port for edge in edges}
    on_edges = [Ear(ws, wire=OpusWire()) for ws in dialled]
    try:
        for ear in on_edges:
            wait_until(lambda ear=ear: len(ear.wire.received) >= 50, within=15, what="3 s")
    finally:
        mouth.stop()
        for ear in (on_core, *on_edges):
            ear.stop()
    sent = {m.seq: (m.frames, m.mix_ms, m.capture_ms) for m in on_core.wire.received}
    for ear in on_edges:
        got = ear.wire.received
        assert ear.wire.lost == 0
        assert all(b.seq - a.seq == 3 for a, b in zip(got, got[1:], strict=False))
        assert all(m.frames == 3 for m in got)
        both = {m.seq: (m.frames, m.mix_ms, m.capture_ms) for m in got if m.seq <= max(sent)}
        assert len(both) >= 45 and both.items() <= sent.items()  # the core's very messages
        assert sum(audible(pcm) for _at, pcm in ear.frames) > 50  # the speech, decoded


def test_the_core_publishes_v1_to_redis_only_while_an_edge_has_v1_listeners(cluster, room, sockets):
    _core, _edges, redis_server = cluster
    _host, listener, space_id = room
    pubsub = redis.Redis.from_url(redis_server.url).pubsub()
    sockets.callback(pubsub.close)
    opus, pcm = mix_channel(space_id, "opus").encode(), mix_channel(space_id, "pcm").encode()
    pubsub.subscribe(opus, pcm)

    def count_for(seconds: float) -> dict[bytes, int]:
        counts = {opus: 0, pcm: 0}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "message":
                counts[message["channel"]] += 1
        return counts

    v2 = Ear(sockets.enter_context(dial_audio(listener, space_id, V2_QUERY)), wire=OpusWire())
    sockets.callback(v2.stop)
    wait_until(lambda: len(v2.frames) >= 30, within=10, what="Opus on the edge")
    count_for(2.5)  # the core reads the wanted keys once a second
    only_opus = count_for(2.0)
    assert only_opus[opus] >= 25  # 50 ticks a second, three to a message
    assert only_opus[pcm] == 0
    v1 = Ear(sockets.enter_context(dial_audio(listener, space_id)))
    sockets.callback(v1.stop)
    wait_until(lambda: len(v1.frames) >= 50, within=10, what="PCM on the edge")
    both = count_for(2.0)
    assert both[pcm] >= 75 and both[opus] >= 25


@pytest.mark.parametrize(
    ("act", "code"),
    [("people/{listener}/remove", 4403), ("people/{listener}/make-speaker", 1012), ("end", 4410)],
)
def test_the_core_closes_a_listeners_edge_socket(cluster, room, sockets, act, code):
    core, _edges, _redis = cluster
    host, listener, space_id = room
    ear = Ear(sockets.enter_context(dial_audio(listener, space_id)))
    wait_until(lambda: len(ear.frames) >= 5, within=10, what="the mix on the edge")
    time.sleep(1.5)  # the edge's wanted key and subscription are in place by now
    acted = time.monotonic()
    host.act(f"/spaces/{space_id}/" + act.format(listener=listener.id))
    assert ear.closed.wait(WITHIN), "the edge socket is still open"
    closed_at, closed_with = ear.closes[-1]
    assert closed_with == code
    assert closed_at - acted < WITHIN
    if code == 1012:  # promoted: the core now sends this person to itself
        assert audio_addresses(listener, space_id) == []


def test_an_edge_killed_its_listeners_reconnect_to_the_other(cluster, room, sockets):
    _core, edges, _redis = cluster
    _host, listener, space_id = room
    first = audio_addresses(listener, space_id)[0]
    ear = Ear(lambda: dial_audio(listener, space_id), reconnect=True)
    dead = None
    try:
        wait_until(lambda: len(ear.frames) >= 5, within=10, what="the mix on the first edge")
        (dead,) = [edge for edge in edges if first.startswith(edge.url)]
        dead.kill9()
        killed = time.monotonic()
        wait_until(lambda: len(ear.connects) >= 2, within=10, what="a reconnect")
        count = len(ear.frames)
        wait_until(lambda: len(ear.frames) >= count + 25, within=10, what="the mix again")
        assert ear.connects[-1] - killed < 10
    finally:
        ear.stop()
        if dead is not None:
            dead.start()


def test_the_terminal_client_listens_on_an_edge_and_fails_over_to_the_other(cluster, room):
    core, edges, _redis = cluster
    _host, listener, space_id = room
    token = Api(core.url).get_token(listener.username, PASSWORD)["token"]
    url = SpaceURL.parse(f"{core.url}/spaces/{space_id}")
    with AudioLink(url, token, query=CLI_V2_QUERY) as link:  # Opus, as `spaces listen` asks
        port = link.ws.remote_address[1]
        (first,) = [edge for edge in edges if edge.port == port]  # not the core: an edge
        assert len(audio_wire.unpack(link.recv(timeout=5)).frames) == 3
        first.kill9()
        try:
            deadline = time.monotonic() + 10
            while link.reconnects == 0 and time.monotonic() < deadline:
                link.recv(timeout=0.5)
            assert link.reconnects == 1
            assert link.ws.remote_address[1] not in (port, core.port)
            assert audio_wire.unpack(link.recv(timeout=5)).frames  # from the other edge
        finally:
            first.start()


def test_after_a_redis_restart_edge_listeners_hear_the_room_again(cluster, room, sockets):
    _core, _edges, redis_server = cluster
    host, listener, space_id = room
    host.act(f"/spaces/{space_id}/mic", {"on": "1"})
    mouth = Mouth(sockets.enter_context(host.websocket(f"/spaces/{space_id}/audio")), speech(1))
    ear = Ear(sockets.enter_context(dial_audio(listener, space_id)))
    try:
        wait_until(lambda: len(ear.frames) >= 25, within=10, what="the mix on the edge")
        redis_server.restart()  # empty: no wanted keys, no subscriptions
        restarted = len(ear.frames)
        heard = wait_until(lambda: len(ear.frames) >= restarted + 50, within=20)
        assert heard, (restarted, len(ear.frames), ear.closes, ear.texts[-3:])
        assert not ear.closed.is_set()  # the same socket: nothing for the listener to do
    finally:
        mouth.stop()
        ear.stop()


def test_an_edge_caps_one_accounts_sockets_as_the_core_does(cluster, room, sockets):
    core, (edge, _other), _redis = cluster
    _host, listener, space_id = room
    path = edge_path(space_id, grants.issue(core._secret_key(), listener.id, space_id, "listener"))
    for _ in range(4):  # SOCKETS_PER_ACCOUNT
        assert sockets.enter_context(WebSocket.connect(edge.port, path)).recv(timeout=5)
    fifth = sockets.enter_context(WebSocket.connect(edge.port, path))
    with pytest.raises(Closed):
        while True:
            fifth.recv(timeout=5)
    assert fifth.close_code == 4429


# Room pages' live sockets on edges -------------------------------------------------------------


def page_on_edge(cluster, person, space_id: int, sockets) -> Ear:
    """The person's room-page socket, where the core sends it (an edge, for a listener), read on
    a thread, once its full state arrived."""
    _core, edges, _redis = cluster
    ws = sockets.enter_context(dial_live(person, space_id))
    assert ws.sock.getpeername()[1] in {edge.port for edge in edges}
    page = Ear(ws)
    sockets.callback(page.stop)
    assert page.wait_text(lambda text: 'id="stage"' in text, after=0, within=WITHIN)
    return page


def test_a_listeners_page_on_an_edge_sees_the_room_change(cluster, room, sockets):
    core, _edges, _redis = cluster
    host, listener, space_id = room
    (other,) = core.sign_up("other")
    other.act(f"/spaces/{space_id}/join")
    assert audio_addresses(host, space_id, "live") == []  # the host's page stays on the core
    page = page_on_edge(cluster, listener, space_id, sockets)
    acted = time.monotonic()
    host.act(f"/spaces/{space_id}/edit", {"title": "Renamed on the core", "description": ""})
    assert page.wait_text(lambda text: "Renamed on the core" in text, acted, WITHIN)
    acted = time.monotonic()
    host.act(f"/spaces/{space_id}/people/{other.id}/make-speaker")

    def other_on_stage(text: str) -> bool:
        stage = parse(text).by_id("stage")
        return stage is not None and other.username in stage.text

    assert page.wait_text(other_on_stage, acted, WITHIN), [t for a, t in page.texts if a >= acted]
    assert not page.closed.is_set()


def test_a_removal_closes_the_page_on_the_edge_with_the_removed_page(cluster, room, sockets):
    _core, _edges, _redis = cluster
    host, listener, space_id = room
    page = page_on_edge(cluster, listener, space_id, sockets)
    acted = time.monotonic()
    host.act(f"/spaces/{space_id}/people/{listener.id}/remove")
    assert page.closed.wait(WITHIN), "the page's socket is still open"
    closed_at, code = page.closes[-1]
    assert code == REMOVED
    assert closed_at - acted < WITHIN
    told = [text for at, text in page.texts if at >= acted]
    assert any("removed you from this Space" in text for text in told), told[-1:]


@pytest.mark.parametrize(
    ("how", "code", "told"),
    [
        ("end", ENDED, "This Space has ended"),
        ("logout", LEFT, "Join this Space"),
        ("leave", LEFT, "Join this Space"),
    ],
)
def test_the_end_and_leaving_close_the_page_on_the_edge_with_what_the_core_shows(
    cluster, room, sockets, how, code, told
):
    _core, _edges, _redis = cluster
    host, listener, space_id = room
    page = page_on_edge(cluster, listener, space_id, sockets)
    acted = time.monotonic()
    if how == "end":
        host.act(f"/spaces/{space_id}/end")
    elif how == "logout":
        assert listener.clone().post("/logout", htmx=False)[0] == 200
    else:
        listener.act(f"/spaces/{space_id}/leave")
    assert page.closed.wait(WITHIN), "the page's socket is still open"
    closed_at, closed_with = page.closes[-1]
    assert closed_with == code
    assert closed_at - acted < WITHIN
    assert any(told in text for at, text in page.texts if at >= acted)


def test_a_page_on_an_edge_keeps_its_listener_present_and_gets_their_own_changes(
    cluster, room, sockets
):
    """Their only socket is the page on the edge (no audio): past the grace period (2 s here)
    they are still in the Space; an invitation to speak reaches their controls and the
    navigation's count."""
    core, _edges, _redis = cluster
    host, listener, space_id = room
    page = page_on_edge(cluster, listener, space_id, sockets)
    time.sleep(5)
    listeners = parse(host.get(f"/spaces/{space_id}")).by_id("listeners")
    assert listener.username in listeners.text
    acted = time.monotonic()
    host.act(f"/spaces/{space_id}/people/{listener.id}/invite")

    def invited(text: str) -> bool:
        controls = parse(text).by_id("my-controls")
        return controls is not None and "Accept invitation to speak" in controls.text

    assert page.wait_text(invited, acted, WITHIN), "no invitation on the page"
    counted = page.wait_text(
        lambda t: 'id="nav-notifications"' in t and "badge" in t, acted, WITHIN
    )
    assert counted, "the navigation's count did not reach the page on the edge"


def test_a_listener_made_speaker_is_sent_back_to_the_core(cluster, room, sockets):
    _core, _edges, _redis = cluster
    host, listener, space_id = room
    page = page_on_edge(cluster, listener, space_id, sockets)
    host.act(f"/spaces/{space_id}/people/{listener.id}/make-speaker")
    assert page.closed.wait(WITHIN)
    assert page.closes[-1][1] == 1012  # the page asks its address again...
    assert audio_addresses(listener, space_id, "live") == []  # ...and is sent to the core


def test_a_pages_messages_reach_the_core_within_the_rate_limit(cluster, room, sockets):
    _core, _edges, _redis = cluster
    host, listener, space_id = room
    host_page = Ear(sockets.enter_context(host.websocket(f"/spaces/{space_id}/live")))
    sockets.callback(host_page.stop)
    page = page_on_edge(cluster, listener, space_id, sockets)
    sent = time.monotonic()
    page.ws.send(json.dumps({"type": "react", "reaction": "clap"}))

    def clap(text: str) -> bool:
        return text.startswith("{") and json.loads(text).get("kind") == "clap"

    assert host_page.wait_text(clap, sent, WITHIN), "the reaction did not reach the core's page"
    mine = page.wait_text(lambda t: clap(t) and json.loads(t).get("mine"), sent, WITHIN)
    assert mine, "the reactor's own page did not see its reaction"
    for _ in range(MAX_MESSAGES_PER_SECOND * 3):  # far past the limit, at once
        page.ws.send(json.dumps({"type": "visibility", "visible": True}))
    assert page.closed.wait(WITHIN)
    assert page.closes[-1][1] == 1008


def test_a_page_shown_again_on_an_edge_gets_its_captions_section_from_the_core(
    cluster, room, sockets
):
    _core, _edges, _redis = cluster
    _host, listener, space_id = room
    listener.act(f"/spaces/{space_id}/captions-view", {"on": "1"})
    page = page_on_edge(cluster, listener, space_id, sockets)
    page.ws.send(json.dumps({"type": "visibility", "visible": False}))
    shown = time.monotonic()
    page.ws.send(json.dumps({"type": "visibility", "visible": True}))

    def captions_alone(text: str) -> bool:
        doc = parse(text)
        return doc.by_id("captions") is not None and doc.by_id("stage") is None

    assert page.wait_text(captions_alone, shown, WITHIN), "no captions section from the core"


def test_after_a_redis_restart_a_page_on_an_edge_is_resynced_and_sees_changes(
    cluster, room, sockets
):
    _core, _edges, redis_server = cluster
    host, listener, space_id = room
    page = page_on_edge(cluster, listener, space_id, sockets)
    redis_server.restart()
    restarted = time.monotonic()
    # The edge asks the core for the page's full state again (changes may have been missed)
    assert page.wait_text(lambda text: 'id="stage"' in text, restarted, 20.0), "no resync"
    acted = time.monotonic()
    host.act(f"/spaces/{space_id}/edit", {"title": "After Redis came back", "description": ""})
    assert page.wait_text(lambda text: "After Redis came back" in text, acted, WITHIN)
    assert not page.closed.is_set()  # the same socket


def test_the_edges_live_socket_refuses_what_the_audio_socket_refuses(cluster, room):
    core, (edge, _other), _redis = cluster
    _host, listener, space_id = room
    key, uid, sid = core._secret_key(), listener.id, space_id

    def live(space: int, token: str) -> str:
        return f"/spaces/{space}/live?grant={token}"

    refusals = {
        "no grant": (f"/spaces/{sid}/live", 401),
        "forged": (live(sid, grants.issue("not-the-key", uid, sid, "listener")), 403),
        "expired": (live(sid, grants.issue(key, uid, sid, "listener", seconds=-1)), 403),
        "another Space": (live(sid + 1, grants.issue(key, uid, sid, "listener")), 403),
        "a speaker's": (live(sid, grants.issue(key, uid, sid, "speaker")), 403),
    }
    for what, (path, status) in refusals.items():
        with pytest.raises(Refused) as refused:
            WebSocket.connect(edge.port, path)
        assert refused.value.status == status, what
    (stranger,) = core.sign_up("stranger")  # not in the Space: no address at all
    status, _ = stranger.request("GET", f"/spaces/{space_id}/live-address")
    assert status == 403


def is_caption_push(text: str) -> bool:
    """Caption lines pushed by the core's captions relay (a full state carries the stage too)."""
    return ("caption-partials" in text or 'class="caption"' in text) and 'id="stage"' not in text


@pytest.mark.model
def test_captions_reach_a_visible_page_on_an_edge_that_turned_them_on_not_a_hidden_one(
    tmp_path, sockets
):
    """A deployment of its own (a core with the caption model, one edge, its own Redis: the
    module's core would answer this edge's requests too). The core says who may view captions;
    the edge keeps which of its pages are visible and turned them on, and filters."""
    redis_server = RedisServer(tmp_path / "redis").start()
    sockets.callback(redis_server.stop)
    port = free_port()
    core = LiveServer(
        tmp_path / "core",
        CAPTIONS="1",
        REDIS_URL=redis_server.url,
        EDGE_URLS=f"ws://127.0.0.1:{port}",
    ).start()
    sockets.callback(core.stop)
    edge = LiveEdge(tmp_path / "edge", redis_server.url, core._secret_key(), port).start()
    sockets.callback(edge.stop)
    host, shown, hidden, off = core.sign_up("host", "shown", "hidden", "off")
    space_id = host.open_space("Captioned")
    room = f"/spaces/{space_id}"
    host.act(f"{room}/captions-consent", {"allow": "1"})
    host.act(f"{room}/mic", {"on": "1"})
    for person in (shown, hidden, off):
        person.join(space_id)
    for person in (shown, hidden):
        person.act(f"{room}/captions-view", {"on": "1"})
    pages = {}
    for person in (shown, hidden, off):
        ws = sockets.enter_context(dial_live(person, space_id))
        assert ws.sock.getpeername()[1] == port
        pages[person.username] = page = Ear(ws)
        sockets.callback(page.stop)
        assert page.wait_text(lambda text: 'id="stage"' in text, after=0, within=WITHIN)
    pages[hidden.username].ws.send(json.dumps({"type": "visibility", "visible": False}))
    hid = time.monotonic()
    mouth = host.speak(f"{room}/audio", speech("jfk"))
    sockets.callback(mouth.stop)
    first = pages[shown.username].wait_text(is_caption_push, after=0, within=60.0)
    assert first, "no captions on the visible page on the edge"
    time.sleep(2.0)  # more captions meanwhile, none of them for the others
    for name in (hidden.username, off.username):
        assert not [t for at, t in pages[name].texts if at > hid and is_caption_push(t)], name
