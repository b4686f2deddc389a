"""Caps on the room's sockets (issue 13 item 8): a few per account in each Space for each kind,
and a few dozen per address, each socket past them closed at once with 4429, which every client
reads as "stop, and say so" (the terminal client here; the browser in test_browser_sockets.py).

The counting in-process (spaces/realtime/socket_caps.py), then against a live server with small
caps: the sockets already open keep working while the next one is refused."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from spaces.cli.exits import EXIT_REFUSED
from spaces.realtime.close_codes import TOO_MANY
from spaces.realtime.socket_caps import SocketCaps
from testkit.passwords import PASSWORD
from testkit.server import LiveServer
from testkit.waiting import wait_until
from testkit.websocket import Closed

# In-process --------------------------------------------------------------------------------------


@dataclass(eq=False)
class Sock:
    account: tuple
    address: str
    open: bool = True


def test_a_cap_per_account_in_each_space_and_kind():
    caps = SocketCaps(per_account=2, per_address=0)
    assert caps.admit(Sock((1, 7, "audio"), "a")) and caps.admit(Sock((1, 7, "audio"), "b"))
    assert not caps.admit(Sock((1, 7, "audio"), "c")), "a third audio socket in Space 1"
    assert caps.admit(Sock((1, 7, "live"), "c")), "another kind has its own cap"
    assert caps.admit(Sock((2, 7, "audio"), "c")), "another Space has its own cap"
    assert caps.admit(Sock((1, 8, "audio"), "c")), "another person has their own cap"


def test_a_cap_per_address_over_every_space_and_kind():
    caps = SocketCaps(per_account=0, per_address=3)
    for space, kind in ((1, "live"), (1, "audio"), (2, "audio")):
        assert caps.admit(Sock((space, space, kind), "10.0.0.1"))
    assert not caps.admit(Sock((3, 9, "live"), "10.0.0.1"))
    assert caps.admit(Sock((3, 9, "live"), "10.0.0.2"))


def test_closed_or_released_sockets_free_their_place():
    caps = SocketCaps(per_account=1, per_address=1)
    first = Sock((1, 7, "audio"), "a")
    assert caps.admit(first)
    assert not caps.admit(Sock((1, 7, "audio"), "a"))
    first.open = False  # closed, its handler not finished yet: leaving and coming back at once
    assert caps.admit(second := Sock((1, 7, "audio"), "a"))
    caps.release(first)
    caps.release(second)
    assert caps.admit(Sock((1, 7, "audio"), "a"))
    assert not caps.by_account.get((9, 9, "live")) and len(caps.by_account) == 1


def test_no_cap_is_zero():
    caps = SocketCaps(per_account=0, per_address=0)
    assert all(caps.admit(Sock((1, 7, "audio"), "a")) for _ in range(100))


# Against a live server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """A server with caps small enough to reach: 2 per account, 5 per address (everyone here is
    127.0.0.1; rate limits on, which turns the cap per address on), and a Space to fill."""
    server = LiveServer(
        tmp_path_factory.mktemp("caps"),
        RATELIMIT_ENABLED="1",
        SOCKETS_PER_ACCOUNT="2",
        SOCKETS_PER_ADDRESS="5",
    ).start()
    try:
        host, fan, other = server.sign_up("host", "fan", "other")
        space = host.open_space("Capped")
        fan.join(space)
        other.join(space)
        yield server, space, host, fan, other
    finally:
        server.stop()


def refused_with(person, path: str) -> int | None:
    """Opens one more socket: the close code it gets instead of any message (a refusal), or
    None when something of the room arrives first (let in). Either comes at once: the audio
    flows every 20 ms, a page's full state follows the handshake."""
    with person.websocket(path) as ws:
        try:
            ws.recv(timeout=5.0)
        except Closed as closed:
            return closed.code
    return None


def at_cap(person, path: str, cap: int = 2) -> list:
    """Opens as many sockets as the account may have (the fixture's cap), each seen admitted;
    none is left open if one fails to connect. The server shares the account between tests, and
    the last test's sockets are counted out a moment after they close: a refused one is dialled
    again."""
    ears = []
    try:
        for _ in range(cap):
            ears.append(person.listen_once_let_in(path))
            assert ears[-1] is not None, "a socket under the cap admitted"
    except BaseException:
        for ear in filter(None, ears):
            ear.stop()
        raise
    return ears


@pytest.mark.live
@pytest.mark.parametrize("kind", ["audio", "live"])
def test_past_its_cap_an_account_is_refused_with_4429_and_its_sockets_go_on(capped, kind):
    server, space, host, fan, _ = capped
    path = f"/spaces/{space}/{kind}"
    ears = at_cap(fan, path)
    try:
        assert refused_with(fan, path) == TOO_MANY
        # The two already open go on: both still get what the server sends.
        host.act(f"/spaces/{space}/edit", {"title": "Still capped", "description": ""})
        for ear in ears:
            if kind == "audio":
                since = len(ear.frames)
                assert wait_until(lambda e=ear, n=since: len(e.frames) > n, 5), "no more frames"
            else:
                assert ear.wait_text(lambda t: "Still capped" in t, after=0, within=5)
            assert not ear.closed.is_set()
    finally:
        ears[0].stop()
    # One closed: there is room for one more.
    assert wait_for_room(fan, path), "a place freed by a closed socket"
    ears[1].stop()


def wait_for_room(person, path: str) -> bool:
    """A socket past the cap is let in once an earlier one has closed (the server counts a
    socket out as soon as it sees it closed)."""
    return wait_until(lambda: refused_with(person, path) is None, within=10, every=0.5)


@pytest.mark.live
def test_past_the_cap_per_address_everyone_there_is_refused(capped):
    server, space, host, fan, other = capped
    audio, live = f"/spaces/{space}/audio", f"/spaces/{space}/live"
    ears = [fan.listen(audio), fan.listen(live), other.listen(audio), other.listen(live)]
    ears.append(host.listen(audio))
    try:
        for ear in ears:
            assert ear.heard_from_server(), "a socket under the cap admitted"
        # Five from 127.0.0.1: the host's second socket is under their own cap, not the address's.
        assert refused_with(host, live) == TOO_MANY
        assert not any(ear.closed.is_set() for ear in ears)
    finally:
        for ear in ears:
            ear.stop()


def spaces(config_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`spaces *args` from this checkout (`-m`: an installed `spaces` script may be another's),
    with its own token file; `--password` last takes the test accounts' password."""
    args = (*args, PASSWORD) if args[-1] == "--password" else args
    return subprocess.run(
        [sys.executable, "-m", "spaces.cli.main", *args],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "SPACES_CONFIG": str(config_dir / "tokens.json")},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.live
def test_the_terminal_client_stops_with_a_clear_message(capped, tmp_path):
    server, space, _, fan, _ = capped
    path = f"/spaces/{space}/audio"
    ears = at_cap(fan, path)
    try:
        login = spaces(tmp_path, "login", server.url, "--username", fan.username, "--password")
        assert login.returncode == 0, login.stderr
        result = spaces(tmp_path, "listen", f"{server.url}/spaces/{space}", "--out", os.devnull)
    finally:
        for ear in ears:
            ear.stop()
    assert result.returncode == EXIT_REFUSED, result.stderr
    assert "Too many connections to this Space are open" in result.stderr
    assert "Traceback" not in result.stderr and "reconnecting" not in result.stderr
