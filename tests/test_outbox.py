"""The per-client outbox: pushes never wait for a client, the backlog is bounded, and a client
that falls too far behind is cut off (HTML) or loses its oldest frames (audio)."""

import socket
import struct
import time

import pytest

from spaces.realtime.outbox import Outbox, close_frame, frame
from testkit.waiting import wait_until


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield server, client
    server.close()
    client.close()


def read_stream(sock: socket.socket, until=None, timeout: float = 10.0):
    """The bytes the client reads until until(data) holds (until the server closes or `timeout`
    passes, without), and whether the server closed."""
    sock.settimeout(0.1)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (until and until(data)):
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def split_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Whole frames' payloads, and whatever trails them."""
    frames = []
    while len(data) >= 2:
        length = data[1] & 0x7F
        offset = 2
        if length == 126:
            (length,) = struct.unpack("!H", data[2:4])
            offset = 4
        elif length == 127:
            (length,) = struct.unpack("!Q", data[2:10])
            offset = 10
        if len(data) < offset + length:
            break
        frames.append(data[offset : offset + length])
        data = data[offset + length :]
    return frames, data


def payloads(n: int, size: int = 2000) -> list[bytes]:
    return [f"{i:05d}".encode() + b"x" * (size - 5) for i in range(n)]


def test_push_never_waits_and_an_overflowing_html_client_is_cut_off(pair):
    server, client = pair
    box = Outbox(server, max_backlog=8, overflow="close")
    started = time.monotonic()
    results = [box.push(frame(p)) for p in payloads(200)]
    # The client reads nothing yet: a push that waited for it would wait for ever (or for the
    # 10 s send timeout). 200 pushes that never wait take milliseconds, even on a busy machine.
    assert time.monotonic() - started < 5
    assert results[0] is True and results[-1] is False
    assert box.dead
    data, eof = read_stream(client)
    assert eof  # the server shut the connection; the page reconnects and gets a full state
    frames, _ = split_frames(data)  # the last frame may be cut off by the close
    assert 0 < len(frames) < 200
    assert frames == payloads(len(frames))  # whole frames, in order, none skipped


def test_a_client_that_catches_up_gets_every_frame_in_order(pair):
    server, client = pair
    box = Outbox(server, max_backlog=64, overflow="close")
    sent = payloads(30)
    for p in sent:
        assert box.push(frame(p))
    assert not box.dead
    expected = sum(len(frame(p)) for p in sent)
    data, eof = read_stream(client, lambda data: len(data) >= expected)
    assert not eof
    assert split_frames(data) == (sent, b"")


def test_audio_client_loses_oldest_frames_but_stays(pair):
    server, client = pair
    box = Outbox(server, max_backlog=4, overflow="drop-oldest")
    sent = payloads(100)
    for p in sent:
        assert box.push(frame(p, 0x2))
    assert not box.dead and box.dropped > 0
    # Read until the newest frame came (the writer thread drains the backlog), or 10 s.
    data, eof = read_stream(client, lambda data: data.endswith(frame(sent[-1], 0x2)))
    assert not eof and not box.dead
    frames, rest = split_frames(data)
    assert rest == b""  # dropping never cuts a frame in half
    assert frames[-1] == sent[-1]  # the newest audio always gets through
    assert len(frames) < len(sent)
    assert frames == sorted(frames)  # nothing out of order


@pytest.mark.parametrize("overflow", ["drop-oldest", "close"])
def test_a_client_that_stops_reading_is_cut_off_after_the_send_timeout(pair, overflow):
    """Within its backlog (audio never overflows: its oldest frames go), a client that reads
    nothing for `send_timeout` seconds is cut off, and its writer thread and backlog freed."""
    server, client = pair
    box = Outbox(server, max_backlog=64, overflow=overflow, send_timeout=0.5)
    for p in payloads(20):  # more than the kernel's buffers hold: the writer waits
        assert box.push(frame(p, 0x2))
    assert box.backlog and not box.dead
    wait_until(lambda: box.dead, 10, what="the stalled client cut off")
    assert not box.backlog
    assert box.push(frame(b"late", 0x2)) is False
    wait_until(lambda: box.writer is None, 5, what="the writer thread gone")
    _, eof = read_stream(client)
    assert eof


def test_a_client_with_frames_still_queued_gets_them_then_the_close_code(pair):
    """The Space ended (4410) or they were removed (4403) while the page was behind: it still
    reads what was queued, then the close frame that tells it why (not just a dropped line)."""
    server, client = pair
    box = Outbox(server, max_backlog=64, overflow="close")
    sent = payloads(20)  # more than the kernel's buffers hold: the rest waits in the backlog
    for p in sent:
        assert box.push(frame(p))
    assert box.backlog
    box.close(4410, "ended")
    assert box.dead and box.push(frame(b"late")) is False  # nothing after the close frame
    data, eof = read_stream(client)
    assert eof
    assert split_frames(data) == ([*sent, close_frame(4410, "ended")[2:]], b"")
    box.finish()  # over already: returns at once


def test_a_closing_client_that_reads_nothing_is_cut_off_within_close_within(pair):
    """Closing never waits on a client for ever: one that reads nothing is shut `close_within`
    seconds after the close (without its close code), and finish() returns by then."""
    server, client = pair
    box = Outbox(server, max_backlog=64, overflow="close", send_timeout=3600, close_within=0.5)
    for p in payloads(20):
        assert box.push(frame(p))
    box.close(4403, "removed")
    # The bound is half a second; 30 s is generous on any load, and the send time-out (an hour)
    # cannot be what cuts it off.
    wait_until(box.finished.is_set, 30, what="the closing client cut off")
    box.finish()  # over: returns at once
    assert not box.backlog
    wait_until(lambda: box.writer is None, 5, what="the writer thread gone")
    data, eof = read_stream(client)
    assert eof
    assert not data.endswith(close_frame(4403, "removed"))


def test_a_close_cuts_off_a_writer_already_waiting_on_a_stalled_client(pair):
    """The writer may already be waiting on a client that reads nothing when the close comes
    (CI caught it: it waited out the whole send time-out); the close's nearer bound still holds."""
    server, client = pair
    box = Outbox(server, max_backlog=64, overflow="close", send_timeout=3600, close_within=0.5)
    for p in payloads(20):
        assert box.push(frame(p))
    wait_until(lambda: box.writer is not None and box.writer.is_alive(), 5, what="a writer")
    # Not synchronisation: it gives the writer time to enter its wait, the case under test.
    time.sleep(0.3)
    box.close(4403, "removed")
    wait_until(box.finished.is_set, 10, what="the closing client cut off")
    data, eof = read_stream(client)
    assert eof
