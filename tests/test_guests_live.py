"""Guest listeners' sockets against a real server (issue 18): a guest's audio and live sockets
are let in while they listen, counted in the room ("1 guest") and listed nowhere, hear the room
but are never heard, are capped by address like everyone's, and close (4401) when the host turns
guests off. test_guests.py covers the pages; test_browser_guests.py a guest in a real browser."""

import contextlib
import re

import pytest

from spaces.realtime.close_codes import GUESTS_OFF, TOO_MANY
from testkit.audio import magnitude, tone
from testkit.guest import Guest
from testkit.html_query import parse
from testkit.server import LiveServer
from testkit.speak import Mouth
from testkit.waiting import wait_until
from testkit.websocket import Closed, Refused, WebSocket

pytestmark = pytest.mark.live

GUEST_COUNT = re.compile(r'class="guest-count">(\d+) guests?<')


def guests_shown(texts) -> list[int]:
    """The guest counts in pushed listeners sections, in order (0: a section with none)."""
    counts = []
    for text in texts:
        if 'id="listeners"' in text:
            found = GUEST_COUNT.search(text)
            counts.append(int(found.group(1)) if found else 0)
    return counts


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("guests-live"), PRESENCE_GRACE_SECONDS="600")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def space(server):
    """A fresh live Space, its host (with the mic on and a page open) per test."""
    (host,) = server.sign_up(f"host{next(_counter)}")
    space = host.open_space("Open room")
    host.act(f"/spaces/{space}/mic", {"on": "1"})
    return host, space


_counter = iter(range(1000))


def test_a_listening_guest_is_let_in_counted_hears_the_room_and_is_never_heard(server, space):
    host, space_id = space
    room = f"/spaces/{space_id}"
    host_page = host.listen(f"{room}/live")
    guest = Guest(server.url)
    guest.listen_to(space_id)
    page, sound = guest.listen(f"{room}/live"), guest.listen(f"{room}/audio")
    mouth = Mouth(host.websocket(f"{room}/audio"), tone(600))
    try:
        assert page.connected.wait(5) and sound.connected.wait(5)
        # The guest's page gets the room; the host's page is told "1 guest", live.
        assert page.wait_text(lambda t: 'id="stage"' in t, after=0, within=5)
        assert wait_until(lambda: 1 in guests_shown(t for _, t in host_page.texts), 5)
        listed = parse(host.get(room)).usernames("listeners-heading")
        assert listed == [], listed  # counted, not listed
        assert "1 guest" in parse(host.get(room)).by_id("listeners").text
        # The guest hears the host.
        assert wait_until(
            lambda: any(magnitude(f, 600) > 1000 for _, f in sound.frames[-50:]), 5
        ), "the guest hears nothing"
        # What the guest sends is dropped: the host hears none of it.
        host_ear = host.listen(f"{room}/audio")
        try:
            for _ in range(40):
                with contextlib.suppress(Closed):
                    sound.ws.send(tone(2500))
            assert host_ear.connected.wait(5)
            assert not wait_until(
                lambda: any(magnitude(f, 2500) > 1000 for _, f in host_ear.frames), 1.5
            ), "a guest was heard"
        finally:
            host_ear.stop()
    finally:
        mouth.stop()
        page.stop()
        sound.stop()
    # Gone: the count drops on the host's page.
    assert wait_until(lambda: guests_shown(t for _, t in host_page.texts)[-1:] == [0], 5)
    host_page.stop()


def test_a_visitor_who_did_not_listen_gets_no_socket(server, space):
    _, space_id = space
    visitor = Guest(server.url)
    visitor.get(f"/spaces/{space_id}")  # a session, but no `Listen as a guest`
    with pytest.raises(Refused) as live:
        visitor.websocket(f"/spaces/{space_id}/live")
    with pytest.raises(Refused) as audio:
        visitor.websocket(f"/spaces/{space_id}/audio")
    assert live.value.status == 403 and audio.value.status in (401, 403)
    with pytest.raises(Refused):  # no cookie at all
        WebSocket.connect(server.port, f"/spaces/{space_id}/audio", "")


def test_turning_guests_off_closes_their_sockets_with_a_clear_message(server, space):
    host, space_id = space
    room = f"/spaces/{space_id}"
    guest = Guest(server.url)
    guest.listen_to(space_id)
    page, sound = guest.listen(f"{room}/live"), guest.listen(f"{room}/audio")
    try:
        assert page.connected.wait(5) and sound.connected.wait(5)
        assert page.wait_text(lambda t: 'id="stage"' in t, after=0, within=5)
        host.act(f"{room}/edit", {"title": "Members only", "description": "", "guests_shown": "1"})
        assert wait_until(lambda: page.closed.is_set() and sound.closed.is_set(), 3)
        assert page.close_code == GUESTS_OFF and sound.close_code == GUESTS_OFF
        assert page.wait_text(lambda t: "not allowing guests" in t, after=0, within=1)
    finally:
        page.stop()
        sound.stop()
    # Coming back: the audio socket is refused, the page's is told again and closed.
    with pytest.raises(Refused):
        guest.websocket(f"{room}/audio")
    ws = guest.websocket(f"{room}/live")
    with ws, contextlib.suppress(Closed, TimeoutError):
        while True:
            ws.recv(timeout=2)
    assert ws.close_code == GUESTS_OFF


def test_guests_are_capped_by_address_like_everyone(tmp_path):
    """Rate limits on (which turns the cap per address on), 3 sockets per address: a fourth
    guest socket from 127.0.0.1 is refused whoever's it is, however many guest ids are minted."""
    server = LiveServer(tmp_path, RATELIMIT_ENABLED="1", SOCKETS_PER_ADDRESS="3").start()
    try:
        (host,) = server.sign_up("capper")
        space_id = host.open_space("Capped")
        guests = [Guest(server.url) for _ in range(4)]
        for guest in guests:
            guest.listen_to(space_id)
        ears = [g.listen(f"/spaces/{space_id}/audio") for g in guests[:3]]
        try:
            assert all(ear.heard_from_server() for ear in ears), "three guests admitted"
            ws = guests[3].websocket(f"/spaces/{space_id}/audio")
            with ws, pytest.raises(Closed) as closed:
                ws.recv(timeout=5)
            assert closed.value.code == TOO_MANY
        finally:
            for ear in ears:
                ear.stop()
    finally:
        server.stop()
