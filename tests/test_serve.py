"""The production server (`python -m spaces.serve`, as `make run` starts it) over raw sockets:
slow and stalled clients cannot stop the site, the purge runs by itself, SIGTERM closes sockets
with 1012."""

import io
import os
import re
import socket
import sqlite3
import time

import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testkit.http_user import HttpUser
from testkit.waiting import wait_until

pytestmark = pytest.mark.live

DAY = 24 * 60 * 60
TONE = (np.sin(np.arange(320) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2").tobytes()


def open_request(port: int, head: str, body: bytes = b"") -> socket.socket:
    """A connection that sent `head` (and `body`) and then nothing more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(head.encode() + body)
    return sock


def half_a_login(port: int) -> socket.socket:
    """`POST /login` announcing 1000 bytes of body and sending 17."""
    head = (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    )
    return open_request(port, head, b"username=slowpoke")


def answer(sock: socket.socket, within: float) -> tuple[bytes, bool]:
    """What the server sent on `sock` within `within` seconds, and whether it closed it."""
    deadline = time.monotonic() + within
    received = b""
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return received, False
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def get_home(port: int, within: float) -> int | None:
    """The status of `GET /` if it answers within `within` seconds, else None."""
    sock = open_request(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    with sock:
        received, _ = answer(sock, within)
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", received)
    return int(match.group(1)) if match else None


def test_clients_that_stall_mid_request_cannot_stop_the_site(start_server):
    """Issue 13.5: under Werkzeug, four `POST /login` bodies that never arrived held the four
    in-flight slots and `GET /` waited for ever. Twice as many stalled bodies (and two stalled
    headers) now hold no slot: the home page answers throughout, and after REQUEST_TIMEOUT each
    stalled body gets 408 and each stalled head is closed."""
    timeout = 6.0
    server = start_server(REQUEST_TIMEOUT=str(timeout), REQUESTS_IN_FLIGHT="4")
    stalled_bodies = [half_a_login(server.port) for _ in range(8)]
    stalled_heads = [
        open_request(server.port, "GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(2)
    ]
    stalled_at = time.monotonic()

    # Every few hundred ms for 3 s, all before the stalled clients are cut off at 6 s.
    statuses = []
    while time.monotonic() - stalled_at < 3.0:
        statuses.append(get_home(server.port, within=3.0))
        time.sleep(0.3)  # pacing: a visitor every few hundred ms, not a wait for something
    assert statuses and all(status == 200 for status in statuses), statuses

    for sock in stalled_bodies:
        with sock:
            received, closed = answer(sock, within=timeout + 10)
        assert received.startswith(b"HTTP/1.1 408 "), received[:100]
        assert closed, "the stalled connection was left open"
    for sock in stalled_heads:
        with sock:
            received, closed = answer(sock, within=timeout + 10)
        assert closed and not received.startswith(b"HTTP/1.1 200"), received[:100]
    assert time.monotonic() - stalled_at >= timeout - 0.5, "cut off before REQUEST_TIMEOUT"


def test_a_body_that_arrives_slowly_but_steadily_is_served(start_server):
    """REQUEST_TIMEOUT bounds each wait for the next bytes, not the whole body: a post sent in
    four pieces a second apart (4 s in all, past the 3 s timeout) is published."""
    server = start_server(REQUEST_TIMEOUT="3")
    user = HttpUser(server.url, "patient")
    body = b"body=written+over+four+seconds"
    head = (
        f"POST /posts HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {server.url}\r\n"
        f"Cookie: {user.cookie_header()}\r\nX-CSRFToken: {user.token}\r\nHX-Request: true\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with open_request(server.port, head) as sock:
        for piece in (body[:8], body[8:16], body[16:24], body[24:]):
            time.sleep(1.0)  # the gap between pieces is the point, not a wait for something
            sock.sendall(piece)
        received, _ = answer(sock, within=10)
    assert received.startswith(b"HTTP/1.1 200 "), received[:200]
    assert "written over four seconds" in user.get("/")


def test_an_oversized_chunked_body_is_refused_with_413(start_server):
    """A body without Content-Length is read up to MAX_CONTENT_LENGTH (64 KiB) and no further."""
    server = start_server()
    head = (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
    )
    chunk = b"x" * 16384
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"
    with open_request(server.port, head, framed) as sock:
        received, _ = answer(sock, within=10)
    assert received.startswith(b"HTTP/1.1 413 "), received[:200]


def test_only_the_settings_form_takes_a_picture_sized_body(start_server):
    """The request guard buffers the settings form up to its own limit (a profile picture of a
    few MB) before the request takes an in-flight slot, so a slow upload holds none: with one
    slot, a page asked for meanwhile is served at once. Every other form keeps the 64 KiB limit."""
    server = start_server(REQUEST_TIMEOUT="3", REQUESTS_IN_FLIGHT="1")
    user = HttpUser(server.url, "pictured")
    user.get("/settings")
    picture = io.BytesIO()
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(picture, "PNG")
    assert len(picture.getvalue()) > 256 * 1024
    boundary = "spacesboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="display_name"\r\n\r\n'
            f'Pictured\r\n--{boundary}\r\nContent-Disposition: form-data; name="picture";'
            f' filename="me.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + picture.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    login = f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n"
    answers = {}
    for path in ("/settings", "/posts"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {server.url}\r\n"
            f"Cookie: {user.cookie_header()}\r\nX-CSRFToken: {user.token}\r\nHX-Request: true\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with open_request(server.port, head) as sock:
            # The settings form in pieces, as a slow uplink sends it; /posts refuses it from its
            # headers alone, without waiting for the body.
            pieces = range(0, len(body), len(body) // 3 + 1) if path == "/settings" else ()
            for start in pieces:
                sock.sendall(body[start : start + len(body) // 3 + 1])
                asked = time.monotonic()
                with open_request(server.port, login) as other:
                    served, _ = answer(other, within=2)
                assert served.startswith(b"HTTP/1.1 200 "), "the slow upload held the slot"
                time.sleep(max(0.0, 1.5 - (time.monotonic() - asked)))  # a slow uplink's pause
            answers[path], _ = answer(sock, within=10)
    assert answers["/settings"].startswith(b"HTTP/1.1 200 "), answers["/settings"][:200]
    assert b"Saved." in answers["/settings"]
    assert answers["/posts"].startswith(b"HTTP/1.1 413 "), answers["/posts"][:200]
    version = server.sql("SELECT picture_version FROM users WHERE username = 'pictured'")[0][0]
    assert (server.data_dir / "pictures" / f"{user.id}-{version}.webp").is_file()


def end_space(host: HttpUser, title: str, *, speak: bool) -> int:
    """Starts a Space, records a second of tone when `speak`, ends it; answers its id."""
    status, body = host.post(
        "/spaces/new", {"title": title, "speaker_policy": "everyone"}, htmx=False
    )
    assert status == 200, body
    space = int(re.search(r'data-space-id="(\d+)"', body).group(1))
    if speak:
        host.post(f"/spaces/{space}/mic", {"on": "1"})
        headers = {"Cookie": host.cookie_header(), "Origin": host.base}
        url = host.base.replace("http", "ws") + f"/spaces/{space}/audio"
        with connect(url, additional_headers=headers, open_timeout=5, close_timeout=1) as ws:
            for _ in range(50):
                ws.send(TONE)
                time.sleep(0.02)  # pacing: a microphone's 20 ms frames
    status, _ = host.post(f"/spaces/{space}/end")
    assert status == 200
    return space


def test_the_running_server_purges_a_space_past_its_deadline_by_itself(start_server):
    """Issue 20.3: the server's own purge thread, every PURGE_SECONDS (0.5 s here), not the CLI.
    Time is moved by writing the end 31 days back (the deadline is 30 days from the end); a
    Space that ended 29 days ago keeps everything."""
    server = start_server(PURGE_SECONDS="0.5")
    host = HttpUser(server.url, "archivist")
    old = end_space(host, "Ended 31 days ago", speak=True)
    recent = end_space(host, "Ended 29 days ago", speak=False)
    db = sqlite3.connect(server.data_dir / "spaces.db", isolation_level=None, timeout=10)
    recording = wait_until(
        lambda: db.execute("SELECT path FROM recordings WHERE space_id = ?", (old,)).fetchone(),
        10,
        what="the server's recording",
    )[0]
    assert os.path.getsize(recording) > 0
    with db:
        db.execute("BEGIN")
        for space, days in ((old, 31), (recent, 29)):
            db.execute(
                "INSERT INTO captions (space_id, user_id, start, end, text, created_at)"
                " VALUES (?, 1, 0, 1, 'words to forget', 0)",
                (space,),
            )
            db.execute(
                "UPDATE spaces SET created_at = created_at - ?, ended_at = ended_at - ?"
                " WHERE id = ?",
                (days * DAY, days * DAY, space),
            )

    def purged_at(space: int):
        return db.execute("SELECT purged_at FROM spaces WHERE id = ?", (space,)).fetchone()[0]

    wait_until(lambda: purged_at(old), 15, what="the server's own purge of the old Space")
    assert not os.path.exists(recording)
    assert db.execute("SELECT COUNT(*) FROM recordings WHERE space_id = ?", (old,)).fetchone() == (
        0,
    )
    assert db.execute("SELECT COUNT(*) FROM captions WHERE space_id = ?", (old,)).fetchone() == (0,)
    assert purged_at(recent) is None
    assert db.execute("SELECT text FROM captions WHERE space_id = ?", (recent,)).fetchall() == [
        ("words to forget",)
    ]
    db.close()


def test_sigterm_closes_every_socket_with_1012_and_stops(start_server):
    """A restart tells browsers to reconnect (1012, "service restart") and ends the process."""
    server = start_server()
    host = HttpUser(server.url, "restarter")
    status, body = host.post(
        "/spaces/new", {"title": "Restart", "speaker_policy": "everyone"}, htmx=False
    )
    space = int(re.search(r'data-space-id="(\d+)"', body).group(1))
    headers = {"Cookie": host.cookie_header(), "Origin": server.url}
    base = server.url.replace("http", "ws") + f"/spaces/{space}"
    with (
        connect(base + "/live", additional_headers=headers, close_timeout=1) as live,
        connect(base + "/audio", additional_headers=headers, close_timeout=1) as audio,
    ):
        live.recv(timeout=5)  # the page's state: the socket is registered with the hub
        audio.recv(timeout=5)  # the mix, sent every tick: the socket is registered with the engine
        server.proc.terminate()
        for ws in (live, audio):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    server.proc.wait(15)
    assert server.proc.returncode == 0
