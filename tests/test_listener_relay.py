"""The listener relay: a process of the core's own that writes listeners' audio
(spaces/realtime/listener_relay.py, relay_process.py). The process itself on socket pairs, then a
live server: listeners hear through it in both formats, people on stage are written by the core,
a listener brought on stage is moved to the core with 1012, and a relay that dies hands its
listeners back to the core."""

import os
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameProtocol

from spaces.realtime.listener_relay import HANG_AFTER, message
from spaces.realtime.outbox import frame
from spaces.realtime.relay_process import (
    ADOPT,
    CLOSE,
    FORGET,
    GONE,
    HEAD,
    NICENESS,
    ONE,
    ROOM,
    RelayProcess,
)
from testkit.audio import audible, tone
from testkit.listen import Ear
from testkit.opus_wire import V2_QUERY, OpusWire
from testkit.server import LiveServer, child_pids
from testkit.speak import Mouth
from testkit.waiting import wait_until
from testkit.websocket import WebSocket

# The process, on socket pairs ------------------------------------------------------------------


@pytest.fixture
def relay():
    """A RelayProcess reading its control socket on a thread; answers (control, client)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = RelayProcess(theirs, send_timeout=2.0)
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    clients = []

    def client(conn_id: int, space_id: int, codec: int = 0) -> socket.socket:
        """A listener's socket handed to the relay; answers the listener's end."""
        server_end, client_end = socket.socketpair()
        socket.send_fds(ours, [message(ADOPT, conn_id, space_id, codec)], [server_end.fileno()])
        server_end.close()  # the relay holds its own copy, as the core's is closed by gunicorn
        client_end.settimeout(2)
        clients.append(client_end)
        return client_end

    ours.settimeout(2)
    yield ours, client
    ours.close()
    thread.join(2)
    for c in clients:
        c.close()


def test_a_rooms_message_reaches_its_listeners_of_that_format_only(relay):
    control, client = relay
    first, second = client(1, space_id=7), client(2, space_id=7)
    other_room, other_format = client(3, space_id=8), client(4, space_id=7, codec=1)
    control.send(message(ROOM, 0, 7, 0) + frame(b"opus bytes"))
    control.send(message(ONE, 3) + frame(b"just for 3"))
    assert first.recv(100) == frame(b"opus bytes")
    assert second.recv(100) == frame(b"opus bytes")
    assert other_room.recv(100) == frame(b"just for 3")  # and not the other room's
    other_format.settimeout(0.3)
    with pytest.raises(TimeoutError):
        other_format.recv(100)


def test_a_close_sends_the_code_and_forgetting_lets_the_connection_go(relay):
    control, client = relay
    listener = client(5, space_id=7)
    control.send(message(CLOSE, 5) + struct.pack("!H", 4403) + b"removed")
    data = listener.recv(100)
    assert data[0] == 0x88 and struct.unpack("!H", data[2:4])[0] == 4403
    control.send(message(FORGET, 5))
    assert listener.recv(100) == b""  # the relay's copy closed: the client sees the end
    control.send(message(ROOM, 0, 7, 0) + frame(b"after"))  # nobody left to write to


def close_code(data: bytes) -> int:
    assert data[0] == 0x88, "a close frame"
    return struct.unpack("!H", data[2:4])[0]


def last_frame(listener: socket.socket) -> bytes:
    """Everything the relay wrote until it shut its side; the frame at the end (unmasked, with a
    payload under 126 bytes here)."""
    data = b""
    while chunk := listener.recv(65536):
        data += chunk
    at = 0
    while at + 2 + data[at + 1] < len(data):
        at += 2 + data[at + 1]
    return data[at:]


def told_gone(control: socket.socket, conn_id: int) -> bool:
    """The relay told the core this listener's socket has ended (it is read no more)."""
    return control.recv(64) == GONE + HEAD.pack(conn_id, 0, 0)


def test_a_listeners_close_is_answered_with_its_code_and_the_core_told(relay):
    control, client = relay
    listener = client(6, space_id=7)
    listener.send(FrameProtocol(client=True, extensions=[]).close(CloseReason.GOING_AWAY, "bye"))
    assert close_code(listener.recv(100)) == 1001
    assert told_gone(control, 6)


def test_a_listeners_ping_gets_its_pong(relay):
    _control, client = relay
    listener = client(8, space_id=7)
    listener.send(FrameProtocol(client=True, extensions=[]).ping(b"still there?"))
    assert listener.recv(100) == frame(b"still there?", 0xA)


def deflating_client() -> FrameProtocol:
    """A browser's side once simple-websocket agreed to permessage-deflate (it always does)."""
    deflate = PerMessageDeflate()
    deflate.accept("permessage-deflate")
    return FrameProtocol(client=True, extensions=[deflate])


def client() -> FrameProtocol:
    return FrameProtocol(client=True, extensions=[])


CLIENT = client()


def empty_fragments(count: int) -> bytes:
    fragments = client()
    return b"".join(fragments.send_data(b"", fin=False) for _ in range(count))


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        (client().send_data(b"x" * 5000), 1009),  # over 4 KiB
        (frame(b"unmasked"), 1002),  # a client's frames are masked
        (b"".join(CLIENT.ping(b"") for _ in range(300)), 1008),  # 300 frames at once
        (empty_fragments(300), 1008),  # one message that never ends
        (client().send_data(b"\xff\xfe"), None),  # binary: read and dropped
        (deflating_client().send_data(b"squeezed " * 20), None),  # compressed: the same
    ],
    ids=["too big", "unmasked", "pings", "empty fragments", "a message", "compressed"],
)
def test_what_a_listener_sends_is_read_and_a_broken_rule_closes_it(relay, sent, code):
    control, client = relay
    listener = client(9, space_id=7)
    listener.send(sent)
    if code is None:  # read and dropped: the listener stays
        control.send(message(ONE, 9) + frame(b"still yours"))
        assert listener.recv(100) == frame(b"still yours")
        return
    assert close_code(last_frame(listener)) == code  # after any pongs it answered first
    assert told_gone(control, 9)


def test_a_socket_forgotten_earlier_in_the_same_wake_up_is_passed_over():
    """The core's FORGET and the client's last bytes can come in one batch of events: the
    relay reads on for everyone else (it used to stop on a KeyError, and every listener with it)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = RelayProcess(theirs, send_timeout=2.0)
    server_end, client_end = socket.socketpair()
    process.handle(message(ADOPT, 11, 7, 0), [os.dup(server_end.fileno())])
    client_end.send(CLIENT.close(CloseReason.NORMAL_CLOSURE, "bye"))
    process.handle(message(FORGET, 11), [])
    process.from_listener(11, server_end)  # its readiness, reported in the same batch
    assert 11 not in process.inputs and 11 not in process.outboxes
    for end in (ours, theirs, server_end, client_end):
        end.close()


# A live server ---------------------------------------------------------------------------------

live = pytest.mark.live


def relay_pids(server) -> list[int]:
    return [
        pid
        for pid in child_pids(server.pid)
        if b"relay_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def sockets_held(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd").iterdir()
    return sum(os.readlink(fd).startswith("socket:") for fd in fds)


@pytest.fixture
def room(server):
    host, listener = server.sign_up("relayhost", "relaylistener")
    space_id = host.open_space("Relay")
    listener.act(f"/spaces/{space_id}/join")
    host.act(f"/spaces/{space_id}/mic", {"on": "1"})
    yield host, listener, space_id
    host.post(f"/spaces/{space_id}/end")


def dial(server, person, space_id: int, codec: str):
    path = f"/spaces/{space_id}/audio" + ("?" + V2_QUERY if codec == "opus" else "")
    return lambda: WebSocket.connect(server.port, path, person.cookie_header())


def wire(codec: str):
    return OpusWire() if codec == "opus" else None


def closed_with_1012_and_back(ear: Ear) -> None:
    """The server closed this listener's socket with 1012 and its client came back."""
    wait_until(lambda: ear.closes, 3, what="the listener's socket closed")
    assert ear.closes[0][1] == 1012
    wait_until(lambda: len(ear.connects) >= 2, 5, what="the reconnection")


@live
@pytest.mark.parametrize("codec", ["pcm", "opus"])
def test_listeners_hear_the_host_through_the_relay_process(server, room, codec):
    host, listener, space_id = room
    mouth = Mouth(dial(server, host, space_id, codec)(), tone(500), wire=wire(codec))
    ear = Ear(dial(server, listener, space_id, codec)(), wire=wire(codec))
    try:
        ear.until(audible, what="the host's tone")
        (relay,) = relay_pids(server)
        # It holds the listener's socket besides its own to the server (the speaker's stays put).
        assert sockets_held(relay) >= 2
        # When both want the CPU, the core's tick and speakers go first.
        core = os.getpriority(os.PRIO_PROCESS, server.pid)
        assert os.getpriority(os.PRIO_PROCESS, relay) == min(19, core + NICENESS)
    finally:
        mouth.stop()
        ear.stop()


@live
def test_a_listener_brought_on_stage_moves_to_the_core_and_is_heard(server, room):
    host, listener, space_id = room
    ear = Ear(dial(server, listener, space_id, "opus"), reconnect=True, wire=OpusWire())
    host_ear = Ear(dial(server, host, space_id, "opus")(), wire=OpusWire())
    try:
        assert ear.heard_from_server()
        host.act(f"/spaces/{space_id}/people/{listener.id}/make-speaker")
        closed_with_1012_and_back(ear)  # moved: the client comes back at once
        ear.stop()  # the reconnected socket is the core's; a speaking client opens its own
        listener.act(f"/spaces/{space_id}/mic", {"on": "1"})
        mouth = Mouth(dial(server, listener, space_id, "opus")(), tone(700), wire=OpusWire())
        try:
            host_ear.until(audible, within=5, what="the new speaker's tone")
        finally:
            mouth.stop()
    finally:
        ear.stop()
        host_ear.stop()


@live
def test_a_listener_who_hangs_up_is_let_go_by_both_processes(server, room):
    """No thread watches a relayed listener in the core: the relay says it has gone, and the
    core lets go of its presence and its copy, and the relay of its own."""
    host, listener, space_id = room
    ear = Ear(dial(server, listener, space_id, "opus")(), wire=OpusWire())
    assert ear.heard_from_server()
    (relay,) = relay_pids(server)
    # Counted once the server has closed its stand-in for the socket (after the handler).
    core_holds = wait_until(lambda: stays_put(lambda: sockets_held(server.pid)), 5)
    relay_holds = sockets_held(relay)
    ear.stop()
    wait_until(lambda: sockets_held(server.pid) == core_holds - 1, 5, what="the core's copy")
    wait_until(lambda: sockets_held(relay) == relay_holds - 1, 5, what="the relay's copy")


def stays_put(count) -> int | None:
    """The count, if it is the same a tenth of a second later."""
    first = count()
    time.sleep(0.1)
    return first if count() == first else None


@live
def test_when_the_relay_process_dies_its_listeners_come_back_to_the_core(server, room):
    host, listener, space_id = room
    mouth = Mouth(dial(server, host, space_id, "opus")(), tone(500), wire=OpusWire())
    ear = Ear(dial(server, listener, space_id, "opus"), reconnect=True, wire=OpusWire())
    try:
        ear.until(audible, what="the host's tone")
        for pid in relay_pids(server):
            os.kill(pid, signal.SIGKILL)
        closed_with_1012_and_back(ear)
        back = len(ear.frames)
        ear.until(lambda f: len(ear.frames) > back + 10 and audible(f), within=5, what="audio")
    finally:
        mouth.stop()
        ear.stop()


@live
def test_a_node_serves_more_listeners_than_it_has_threads(tmp_path):
    """The relay reads and writes listeners' sockets, so none holds one of the server's threads:
    ten listen on a server of four threads (before, the fifth waited for a thread for ever)."""
    server = LiveServer(tmp_path, SERVER_THREADS="4", SOCKETS_PER_ACCOUNT="1").start()
    ears = []
    try:
        host, *listeners = server.sign_up("fewthreads", *[f"oneofmany{i}" for i in range(10)])
        space_id = host.open_space("More than threads")
        for listener in listeners:
            listener.act(f"/spaces/{space_id}/join")
            ears.append(listener.listen(f"/spaces/{space_id}/audio"))
        assert all(ear.heard_from_server() for ear in ears)
        # One hangs up and comes back: let in again (one socket each, so the first was let go
        # with no thread watching it) and heard, beside the others still open.
        ears.pop().stop()
        ears.append(listeners[-1].listen_once_let_in(f"/spaces/{space_id}/audio"))
        assert ears[-1] is not None, "the listener who hung up let back in"
        assert not any(ear.closed.is_set() for ear in ears)
    finally:
        for ear in filter(None, ears):
            ear.stop()
        server.stop()


@live
def test_past_the_relays_cap_a_listeners_socket_is_the_cores_and_is_heard(tmp_path):
    """LISTENER_RELAY_SOCKETS bounds the descriptors both processes hold for listeners: past it,
    a listener's socket holds a server thread, as without the relay, and hears the same."""
    server = LiveServer(tmp_path, LISTENER_RELAY_SOCKETS="1").start()
    try:
        host, first, second = server.sign_up("cappedrelay", "relayfirst", "relaysecond")
        space_id = host.open_space("Relay capped")
        host.act(f"/spaces/{space_id}/mic", {"on": "1"})
        mouth = Mouth(dial(server, host, space_id, "opus")(), tone(500), wire=OpusWire())
        ears = []
        for listener in (first, second):
            listener.act(f"/spaces/{space_id}/join")
            ears.append(Ear(dial(server, listener, space_id, "opus")(), wire=OpusWire()))
        try:
            for ear in ears:
                ear.until(audible, what="the host's tone")
            (relay,) = relay_pids(server)
            assert sockets_held(relay) == 2  # its own to the server, and the first listener's
        finally:
            mouth.stop()
            for ear in ears:
                ear.stop()
    finally:
        server.stop()


@live
def test_a_relay_that_stops_answering_is_killed_and_its_listeners_come_back(tmp_path):
    """A stopped relay (SIGSTOP: as hung as a process gets) answers no ping: after HANG_AFTER
    seconds the core kills it and closes its listeners with 1012; they come back to the core.
    A server of its own: the module's keeps its relay for the other tests."""
    server = LiveServer(tmp_path).start()
    try:
        hung_relay(server)
    finally:
        server.stop()


def hung_relay(server) -> None:
    host, listener = server.sign_up("hunghost", "hunglistener")
    space_id = host.open_space("Relay hangs")
    listener.act(f"/spaces/{space_id}/join")
    host.act(f"/spaces/{space_id}/mic", {"on": "1"})
    mouth = Mouth(dial(server, host, space_id, "opus")(), tone(500), wire=OpusWire())
    ear = Ear(dial(server, listener, space_id, "opus"), reconnect=True, wire=OpusWire())
    try:
        ear.until(audible, what="the host's tone")
        (relay,) = relay_pids(server)
        os.kill(relay, signal.SIGSTOP)
        wait_until(lambda: ear.closes, HANG_AFTER + 5, what="the listener's socket closed")
        assert ear.closes[0][1] == 1012
        wait_until(lambda: len(ear.connects) >= 2, 5, what="the reconnection")
        back = len(ear.frames)
        ear.until(lambda f: len(ear.frames) > back + 10 and audible(f), within=5, what="audio")
        wait_until(lambda: not Path(f"/proc/{relay}").exists(), 5, what="the relay killed")
    finally:
        mouth.stop()
        ear.stop()
