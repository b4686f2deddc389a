"""Clients that stop reading, on both sockets (drill F2's short version: `bench/drills.py F2`).

Each socket writes through an outbox (spaces/realtime/outbox.py). A room page that falls too far
behind is cut off (overflow="close"): it reconnects and gets the whole room again, so it never
shows a room with changes silently missing. An audio client only loses its oldest frames when it
falls behind, but one that reads nothing at all for the send time-out (SOCKET_SEND_TIMEOUT, 10 s by
default) is dropped, so it holds no thread or buffer for ever. Other tests check that such clients
delay nobody else (test_live.py, test_audio_socket.py); these check that they are dropped, each
for its own reason: each test's server sets the time-out so that only that reason can drop it.
"""

import re
import select
import socket
import time

import pytest

from testkit.procfs import tcp_state
from testkit.server import LiveServer
from testkit.waiting import wait_until
from testkit.websocket import TEXT, read_frames, upgrade

pytestmark = pytest.mark.live

NEVER = "3600"  # a send time-out no test lasts: only the backlog's overflow can drop a page
SEND_TIMEOUT = 3.0  # short, for the audio test; still long for a client that does read
DESCRIPTION = "\N{STUDIO MICROPHONE}" * 280  # the longest description: ~2 KB per push
PUSHES_BEHIND = 150  # a page this far behind must have been cut off (about 52 do it; see below)
TITLE = re.compile(r">Round (\d+)<")


@pytest.fixture(scope="module")
def patient_server(tmp_path_factory):
    """A server whose sockets never time out on a client (SOCKET_SEND_TIMEOUT an hour): only a
    page's overflowing backlog can drop it."""
    server = LiveServer(tmp_path_factory.mktemp("patient"), SOCKET_SEND_TIMEOUT=NEVER).start()
    yield server
    server.stop()


def edit_and_wait(host, room: str, watching, n: int) -> None:
    """Edit n: one push to every page; the watcher's copy arriving says it went out."""
    sent = time.monotonic()
    host.act(room + "/edit", {"title": f"Round {n}", "description": DESCRIPTION})
    title = f">Round {n}<"
    assert watching.wait_text(lambda text, t=title: t in text, sent, 10), "pushes stopped"


def titles_in(frames: list[tuple[int, bytes]]) -> list[int]:
    return [
        int(found.group(1))
        for opcode, payload in frames
        if opcode == TEXT and (found := TITLE.search(payload.decode(errors="replace")))
    ]


def never_read(server, path: str, person) -> socket.socket:
    """A websocket never read after its handshake. A tiny receive buffer and segment size keep
    the kernel's share small (Linux sizes the server's send buffer by the segment too), so the
    server meets a full socket after a few dozen fragments or a second of audio."""
    return upgrade(
        server.port, path, person.cookie_header(), timeout=10, receive_buffer=1024, segment=536
    )


def dropped(server, client: socket.socket) -> bool:
    """The server's side of this connection is no longer ESTABLISHED: it shut it."""
    return tcp_state(server.port, client.getsockname()[1]) != "ESTABLISHED"


def read_to_the_end(client: socket.socket, within: float) -> tuple[list[tuple[int, bytes]], bool]:
    """Everything the client can still read, as frames, and whether the connection ended (EOF or
    reset) within `within` seconds of reading nothing more."""
    client.settimeout(within)
    buffer = bytearray()
    try:
        while chunk := client.recv(65536):
            buffer += chunk
        ended = True
    except ConnectionResetError:
        ended = True
    except TimeoutError:
        ended = False
    return read_frames(buffer), ended


def open_room(server, host_name: str, *listener_names: str):
    """A host's open Space with one person per listener name joined: its path, the host, them."""
    host, *listeners = server.sign_up(host_name, *listener_names)
    space_id = host.open_space()
    for listener in listeners:
        listener.join(space_id)
    return f"/spaces/{space_id}", host, listeners


def test_a_page_that_stops_reading_is_cut_off_and_never_shows_a_gap(patient_server):
    """With the send time-out out of reach, only overflow="close" can drop this page however slow
    the machine is: with "drop-oldest" it would stay connected, its pushes silently thinned."""
    server = patient_server
    room, host, (stalled_person, watcher) = open_room(server, "slowhost", "slowpage", "watcher")
    watching = watcher.listen(room + "/live")
    watching.connected.wait(10)
    stalled = never_read(server, room + "/live", stalled_person)
    try:
        # Its full state waiting unread says the hub has it: an edit made before that would
        # come twice (in the full state and as a push), as it once did under load.
        assert select.select([stalled], [], [], 10)[0], "the stalled page's full state"
        # The kernel holds about 20 pushes for the stalled page, its backlog 32 more: cut off
        # after about 52 (measured). Three times as many leave no doubt, and take seconds.
        pushes = 0
        while pushes < PUSHES_BEHIND and not dropped(server, stalled):
            edit_and_wait(host, room, watching, pushes)
            pushes += 1
        assert dropped(server, stalled), f"a page {pushes} pushes behind is still connected"

        # Reading now: the pushes sent before the cut-off, whole and in order, then the end.
        frames, ended = read_to_the_end(stalled, within=5)
        assert ended, "the page was dropped by the server but its connection did not end"
        titles = titles_in(frames)
        assert titles == list(range(len(titles))), "pushes were skipped, not cut off"
        assert 0 < len(titles) < pushes
    finally:
        stalled.close()
        watching.stop()


def test_an_audio_client_that_stops_reading_is_dropped_after_the_send_timeout(start_server):
    server = start_server(SOCKET_SEND_TIMEOUT=str(SEND_TIMEOUT))
    room, host, (stalled_person, listener) = open_room(
        server, "audiohost", "audiostall", "stillhere"
    )
    host.act(room + "/mic", {"on": "1"})
    ear = listener.listen(room + "/audio", keep_text=False)
    stalled = never_read(server, room + "/audio", stalled_person)
    try:
        # Audio never overflows (the oldest frames go): only the time-out can drop it. Generous:
        # a second of audio fills the kernel's buffers, then 3 s; a broken time-out fails at 30 s.
        wait_until(
            lambda: dropped(server, stalled),
            10 * SEND_TIMEOUT,
            0.2,
            what="the audio client that stopped reading was dropped",
        )
        since = ear.frames[-1][0] if ear.frames else 0.0
        wait_until(lambda: len(ear.since(since)) > 10, 10, what="the listener beside it hears on")
        _, ended = read_to_the_end(stalled, within=5)
        assert ended
    finally:
        stalled.close()
        ear.stop()
