"""The authorization matrix over the room's two sockets, against a real server.

For every role of test_policy.py's grid, in a live Space and then an ended one: may they open the
audio socket and the live socket, is the audio they send heard (only where the grid's
`send_audio` cell allows it), and does any message a page could forge (approve, make speaker,
end, htmx-style requests) change a role? test_authz_http.py does the same for the HTTP routes.
"""

import contextlib
import json
import time

import pytest
from test_policy import CELLS
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from testkit.audio import magnitude, tone
from testkit.listen import Ear
from testkit.server import LiveServer
from testkit.websocket import Closed, Refused, WebSocket

pytestmark = pytest.mark.live

SEND = {
    role: mark == "+"
    for state, role, action, mark in CELLS
    if (state, action) == ("live", "send_audio")
}
ROLES = list(SEND)
VIEW = {
    role: mark == "+" for state, role, action, mark in CELLS if (state, action) == ("live", "view")
}
FORGED = [
    '{"type": "approve", "user_id": %(me)d}',
    '{"type": "make_speaker", "user_id": %(me)d}',
    '{"type": "role", "role": "host", "user_id": %(me)d}',
    '{"type": "mic", "on": true}',
    '{"type": "end"}',
    '{"type": "remove", "user_id": %(host)d}',
    '{"HEADERS": {"HX-Request": "true"}, "action": "make-speaker", "user_id": %(me)d}',
    '{"type": "visibility", "visible": true, "role": "host"}',
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One server and Space with someone in every role (the away host has a Space of their own)."""
    server = LiveServer(tmp_path_factory.mktemp("authz-sockets")).start()
    try:
        host, away, ear = server.sign_up("host", "away", "ear")
        space = host.open_space("Audio")
        room = f"/spaces/{space}"
        people = {"host": host}
        for role in ROLES:
            if role in ("host", "host_away", "anonymous"):
                continue
            (person,) = server.sign_up(role[:8])
            people[role] = person
            server.sql(
                "UPDATE users SET is_admin = ?, protected = ? WHERE id = ?",
                (role.startswith("admin"), role.startswith("protected"), person.id),
            )
            if role not in ("stranger", "admin", "protected", "blocked_by_host"):
                person.act(f"{room}/join")
            if role == "requester":
                person.act(f"{room}/request")
            if role == "invited":
                host.act(f"{room}/people/{person.id}/invite")
            if role in ("speaker", "speaker_mic_on", "protected_speaker"):
                host.act(f"{room}/people/{person.id}/make-speaker")
            if role == "speaker_mic_on":
                person.act(f"{room}/mic", {"on": "1"})
            if role == "removed":
                host.act(f"{room}/people/{person.id}/remove")
            if role == "blocked_by_host":
                host.act(f"/u/{person.username}/block")
        people["host_away"] = away
        away_space = away.open_space("Audio")
        away.act(f"/spaces/{away_space}/leave")
        ear.act(f"{room}/join")
        yield {
            "server": server,
            "space": space,
            "away_space": away_space,
            "people": people,
            "ear": ear,
        }
    finally:
        server.stop()


def roles_in_db(server) -> dict:
    return dict(server.sql("SELECT user_id, role || ':' || present FROM participants"))


def space_of(world, role: str) -> int:
    return world["away_space"] if role == "host_away" else world["space"]


def try_to_speak(world, role: str, freq: float) -> str:
    """'refused' at the handshake, 'heard' or 'silent' at the listener."""
    server, person = world["server"], world["people"].get(role)
    path = f"/spaces/{space_of(world, role)}/audio"
    try:
        ws = WebSocket.connect(server.port, path, person.cookie_header() if person else "")
    except Refused:
        return "refused"
    with contextlib.ExitStack() as stack:
        stack.enter_context(ws)
        ear = Ear(stack.enter_context(world["ear"].websocket(f"/spaces/{world['space']}/audio")))
        Ear(ws)  # a client reads what it is sent
        time.sleep(0.2)
        start = time.monotonic()
        for i in range(40):
            with contextlib.suppress(Closed):
                ws.send(tone(freq))
            time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))
        time.sleep(0.3)
        heard = max((magnitude(f, freq) for f in ear.since(start)), default=0.0)
    return "heard" if heard > 1000 else "silent"


def test_only_roles_the_grid_allows_are_heard(world):
    outcome = {}
    for i, role in enumerate(ROLES):
        outcome[role] = try_to_speak(world, role, 200 + 50 * i)
    print("audio socket:", json.dumps(outcome))
    for role in ROLES:
        assert (outcome[role] == "heard") == SEND[role], (role, outcome[role])
    # People not in the Space never get as far as the socket.
    for role in ("anonymous", "stranger", "removed", "blocked_by_host", "admin", "protected"):
        assert outcome[role] == "refused", role


def test_forged_role_changes_over_the_live_socket_change_nothing(world):
    server, people = world["server"], world["people"]
    before = roles_in_db(server)
    base = server.url.replace("http", "ws")
    host_id = people["host"].id
    answered = 0
    for role in ROLES:
        person = people.get(role)
        headers = {"Origin": server.url}
        if person is not None:
            headers["Cookie"] = person.cookie_header()
        url = f"{base}/spaces/{space_of(world, role)}/live"
        try:
            ws = connect(url, additional_headers=headers, open_timeout=5)
        except InvalidStatus:
            assert not VIEW[role], role  # anonymous, and someone the host blocked
            continue
        with ws:
            answered += 1
            me = person.id
            for text in FORGED:
                ws.send(text % {"me": me, "host": host_id})
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                while True:
                    ws.recv(timeout=0.3)
    time.sleep(0.3)
    assert answered == sum(VIEW.values()), "every role that may view opens the live socket"
    assert roles_in_db(server) == before
    status, page = people["host"].request("GET", f"/spaces/{world['space']}", htmx=False)
    assert status == 200 and "This Space has ended" not in page
    print(f"live socket: {answered} roles x {len(FORGED)} forged messages, nothing changed")


def test_after_the_end_no_role_gets_audio_or_room_state(world):
    server, people = world["server"], world["people"]
    people["host"].act(f"/spaces/{world['space']}/end")
    base = server.url.replace("http", "ws")
    for i, role in enumerate(ROLES):
        if role == "host_away":
            continue
        assert try_to_speak(world, role, 200 + 50 * i) == "refused", role
        person = people.get(role)
        headers = {"Origin": server.url}
        if person is not None:
            headers["Cookie"] = person.cookie_header()
        try:
            ws = connect(f"{base}/spaces/{world['space']}/live", additional_headers=headers)
        except InvalidStatus:
            continue
        with ws:
            messages = []
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                while True:
                    messages.append(ws.recv(timeout=2))
        assert messages and all("This Space has ended" in m for m in messages), (role, messages)
        assert not any('id="listeners"' in m for m in messages), role
