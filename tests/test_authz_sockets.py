"""The authorization matrix over the room's two sockets, against a real server.

For every role of test_policy.py's grid, in a live Space and then an ended one: may they open the
audio socket and the live socket, is the audio they send heard (only where the grid's
`send_audio` cell allows it), does anyone not in the Space get room state, and does any message a
page could forge (approve, make speaker, end, htmx-style requests) change a role?
test_authz_http.py does the same for the HTTP routes.

Then the ways out of a Space while both sockets are open (left, removed, blocked, logged out):
from that moment no caption and no presence reaches the person, both sockets close with the code
that says why, and coming back gets nothing of the room. How soon they close is a figure of
bench/realtime_targets.py (target 1 s); here a generous deadline lets a loaded machine pass.
"""

import contextlib
import json
import time

import pytest
from test_policy import CELLS, GUEST_CELLS

from spaces.realtime.close_codes import ENDED, GUESTS_OFF, LEFT, REMOVED
from spaces.realtime.message_rate import MAX_MESSAGES_PER_SECOND
from testkit.audio import audible, magnitude, speech, tone
from testkit.guest import Guest
from testkit.html_query import parse
from testkit.listen import Ear
from testkit.server import LiveServer
from testkit.speak import Mouth
from testkit.waiting import wait_until
from testkit.websocket import Closed, Refused, WebSocket

pytestmark = pytest.mark.live

SEND = {
    role: mark == "+"
    for state, role, action, mark in CELLS
    if (state, action) == ("live", "send_audio")
}
ROLES = list(SEND)
FORGED = [
    '{"type": "approve", "user_id": %(me)d}',
    '{"type": "make_speaker", "user_id": %(me)d}',
    '{"type": "mic", "on": true}',
    '{"type": "end"}',
    '{"type": "remove", "user_id": %(host)d}',
    '{"HEADERS": {"HX-Request": "true"}, "action": "make-speaker", "user_id": %(me)d}',
    '{"type": "visibility", "visible": true, "role": "host"}',
    '{"type": "make_cohost", "user_id": %(me)d}',
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One server and Space with someone in every role (the away host has a Space of their own).
    They joined over HTTP and hold no socket between tests: a long grace period keeps them in."""
    server = LiveServer(tmp_path_factory.mktemp("authz-sockets"), PRESENCE_GRACE_SECONDS="600")
    server.start()
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
            if role == "cohost":
                host.act(f"{room}/people/{person.id}/make-cohost")
            if role == "removed":
                host.act(f"{room}/people/{person.id}/remove")
            if role == "blocked_by_host":
                host.act(f"/u/{person.username}/block")
        people["host_away"] = away
        away_space = away.open_space("Audio")
        away.act(f"/spaces/{away_space}/leave")
        ear.act(f"{room}/join")
        for role in IN_THE_SPACE:  # so that their pages answer the echo (below)
            people[role].act(f"{room}/captions-view", {"on": "1"})
        yield {
            "server": server,
            "space": space,
            "away_space": away_space,
            "people": people,
            "ear": ear,
        }
    finally:
        server.stop()


def space_of(world, role: str) -> int:
    return world["away_space"] if role == "host_away" else world["space"]


CONTROL, CONTROL_HZ = "speaker_mic_on", 3000  # the one role the grid lets send, and its tone


def try_to_speak(world, role: str, freq: float) -> str:
    """'refused' at the handshake, 'heard' or 'silent' at the listener.

    'silent' only once a positive control came through: the speaker with the mic on sends a tone
    of their own after the role's last frame, and it is heard. The role's frames went in first,
    so any the server kept are in the mix by then however slow the machine."""
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
        ear.until(lambda _f: True, what="the listener's stream")
        start = time.monotonic()
        for i in range(40):
            with contextlib.suppress(Closed):
                ws.send(tone(freq))
            # Pacing, not waiting: one frame every 20 ms, as a microphone sends.
            time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))

        def heard(hz: float) -> bool:
            return max((magnitude(f, hz) for f in ear.since(start)), default=0.0) > 1000

        if role == CONTROL:
            wait_until(lambda: heard(freq), 5, what="the control speaker's own tone")
        else:  # no fixed wait for silence: the control's tone comes after the role's frames
            control_path = f"/spaces/{world['space']}/audio"
            mouth = Mouth(world["people"][CONTROL].websocket(control_path), tone(CONTROL_HZ))
            try:
                wait_until(lambda: heard(CONTROL_HZ), 5, what="the control speaker's tone")
            finally:
                mouth.stop()
        return "heard" if heard(freq) else "silent"


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


ROOM_STATE = ("space-meta", "stage", "listeners", "requests", "captions", "caption-partials")
IN_THE_SPACE = {"host", "listener", "requester", "invited", "speaker", "speaker_mic_on"}
IN_THE_SPACE |= {"admin_listener", "protected_speaker", "cohost"}


def room_state(texts) -> set[str]:
    """The parts of the room (presence, meta, captions) these pushed fragments hold."""
    return {part for text in texts for part in ROOM_STATE if parse(text).by_id(part) is not None}


# A page hidden, then shown again: with `View captions` on, the server sends its captions section
# back. Sent after the forged messages, its answer proves the socket's one reader had handled them.
ECHO = ('{"type": "visibility", "visible": false}', '{"type": "visibility", "visible": true}')
ANSWER_DEADLINE = 10.0  # seconds for the echo's answer or the close (each takes milliseconds)
# What a forged message could change: roles, hands up, mics, invitations, removals, blocks, the
# Spaces themselves (title, end), stage turns and accounts (admin, protected).
WATCHED = ("participants", "space_invites", "space_removals", "blocks", "spaces", "stage_turns")
WATCHED += ("users",)


def database_state(server) -> dict[str, list[tuple]]:
    return {table: server.sql(f"SELECT * FROM {table} ORDER BY rowid") for table in WATCHED}


def is_echo(text: str) -> bool:
    """The captions section alone: the answer to ECHO (a full state carries the stage too)."""
    doc = parse(text)
    return doc.by_id("captions") is not None and doc.by_id("stage") is None


def read_until(ws, done, texts: list[str]) -> None:
    """Reads into `texts` until done(text): TimeoutError after ANSWER_DEADLINE, Closed when the
    server closes the socket first."""
    deadline = time.monotonic() + ANSWER_DEADLINE
    while True:
        texts.append(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        if done(texts[-1]):
            return


def echo(ws, texts: list[str]) -> None:
    """Sends ECHO and reads until its answer: the socket is open and its reader has handled
    everything sent before."""
    for text in ECHO:
        ws.send(text)
    read_until(ws, is_echo, texts)


def open_live(world, role: str, space: int | None = None):
    """The role's live socket, read until the server closes it, or until its full state came and
    the echo was answered: (the texts received, the close code, None when it is still open)."""
    server, person = world["server"], world["people"].get(role)
    path = f"/spaces/{space or space_of(world, role)}/live"
    ws = WebSocket.connect(server.port, path, person.cookie_header() if person else "")
    texts = []
    with ws, contextlib.suppress(Closed):
        read_until(ws, lambda text: parse(text).by_id("space-meta") is not None, texts)
        echo(ws, texts)
    return texts, ws.close_code


def test_only_people_in_the_space_keep_a_live_socket_or_see_the_room(world):
    outcome = {}
    for role in ROLES:
        try:
            texts, code = open_live(world, role)
        except Refused as refused:
            outcome[role] = refused.status
            continue
        outcome[role] = (code, sorted(room_state(texts)))
    print("live socket:", json.dumps(outcome))
    assert outcome.pop("anonymous") == 403
    for role, (code, parts) in outcome.items():
        if role in IN_THE_SPACE:
            assert code is None and {"stage", "listeners", "space-meta"} <= set(parts), role
        else:  # told where they stand, then closed: nothing of the room
            expected = REMOVED if role in ("removed", "blocked_by_host") else LEFT
            assert (code, parts) == (expected, []), role


def test_only_the_host_and_cohosts_sockets_carry_the_host_controls(world):
    """Co-hosts (issue 17) are a kind of viewer of their own: their pushed state has the Requests
    list with Approve and the Edit button, like the host's; nobody else's socket carries them."""
    seen = {}
    for role in sorted(IN_THE_SPACE):
        texts, code = open_live(world, role)
        assert code is None, role
        docs = [parse(text) for text in texts]
        requests = [d.by_id("requests") for d in docs if d.by_id("requests") is not None]
        meta = [d.by_id("space-meta") for d in docs if d.by_id("space-meta") is not None]
        seen[role] = (
            any("Approve" in r.buttons() for r in requests),
            any("Edit" in m.buttons() for m in meta),
            any("End Space" in m.buttons() for m in meta),
        )
    print("host controls:", json.dumps(seen))
    for role, (approve, edit, end) in seen.items():
        assert (approve, edit) == ((True, True) if role in ("host", "cohost") else (False, False))
        assert end == (role == "host"), role


def test_forged_role_changes_over_the_live_socket_change_nothing(world):
    server, people = world["server"], world["people"]
    # Ten at once is what the socket takes before closing a page for flooding it (1008).
    assert len(FORGED) + len(ECHO) <= MAX_MESSAGES_PER_SECOND, "pace the forged messages"
    before = database_state(server)
    host_id = people["host"].id
    closed = {}
    for role in ROLES:
        person = people.get(role)
        path = f"/spaces/{space_of(world, role)}/live"
        try:
            ws = WebSocket.connect(server.port, path, person.cookie_header() if person else "")
        except Refused:
            assert role == "anonymous", role
            continue
        with ws:
            for text in FORGED:
                with contextlib.suppress(Closed):  # those not in the Space are closed at once
                    ws.send(text % {"me": person.id, "host": host_id})
            try:
                if role in IN_THE_SPACE:
                    echo(ws, [])
                else:
                    read_until(ws, lambda _text: False, [])
            except Closed as closing:
                closed[role] = closing.code
    # The echo came back on every socket of a role in the Space; the others were closed with the
    # code that says where they stand. Either way, no forged message is left to be handled.
    assert closed == {
        role: REMOVED if role in ("removed", "blocked_by_host") else LEFT
        for role in ROLES
        if role != "anonymous" and role not in IN_THE_SPACE
    }
    assert database_state(server) == before
    status, page = people["host"].request("GET", f"/spaces/{world['space']}", htmx=False)
    assert status == 200 and "This Space has ended" not in page
    print(f"live socket: {len(ROLES) - 1} roles x {len(FORGED)} forged messages, nothing changed")


# Reactions (issue 17): each message is checked by policy.can(..., "react", ...).
REACT = {
    role: mark == "+" for state, role, action, mark in CELLS if (state, action) == ("live", "react")
}


def try_to_react(world, role: str, ear: Ear) -> str:
    """'refused' at the handshake, 'closed' (told they are not in the Space), 'shown' (the other
    page got the reaction) or 'not shown' (the server answered with a refusal, to them only)."""
    server, person = world["server"], world["people"].get(role)
    path = f"/spaces/{space_of(world, role)}/live"
    try:
        ws = WebSocket.connect(server.port, path, person.cookie_header() if person else "")
    except Refused:
        return "refused"
    mine = f'"who": "u{person.id}"'
    with ws:
        start = time.monotonic()
        with contextlib.suppress(Closed):
            ws.send('{"type": "react", "reaction": "clap"}')
        # The server answers every message: the reaction itself (to every page, theirs too),
        # or why not; or it has closed the socket, before reading it.
        try:
            while True:
                text = ws.recv(timeout=5)
                if mine in text or 'id="status"' in text:
                    break
        except Closed:
            return "closed"
    if ear.wait_text(lambda t: mine in t, after=start, within=0.1):
        return "shown"
    # No fixed wait for a reaction that never comes: the host's, sent after it, reaches the page
    # in the order the server published them.
    host = world["people"]["host"]
    theirs = f'"who": "u{host.id}"'
    with host.websocket(f"/spaces/{world['space']}/live") as control:
        control.send('{"type": "react", "reaction": "clap"}')
        assert ear.wait_text(lambda t: theirs in t, after=start, within=10), "the host's clap"
    return "shown" if ear.wait_text(lambda t: mine in t, after=start, within=0) else "not shown"


def test_only_roles_the_grid_allows_react_over_the_live_socket(world):
    page = world["ear"].listen(f"/spaces/{world['space']}/live")
    try:
        assert page.wait_text(lambda t: "my-controls" in t, after=0, within=5)
        outcome = {role: try_to_react(world, role, page) for role in ROLES}
    finally:
        page.stop()
    print("reactions:", json.dumps(outcome))
    for role in ROLES:
        assert (outcome[role] == "shown") == REACT[role], (role, outcome[role])
    assert outcome["anonymous"] == "refused"


def test_after_the_end_no_role_gets_audio_or_room_state(world):
    people = world["people"]
    people["host"].act(f"/spaces/{world['space']}/end")
    for i, role in enumerate(ROLES):
        if role == "host_away":
            continue
        assert try_to_speak(world, role, 200 + 50 * i) == "refused", role
        try:
            texts, code = open_live(world, role, world["space"])
        except Refused:
            assert role == "anonymous", role
            continue
        assert code == ENDED, role
        assert texts and all("This Space has ended" in t for t in texts), (role, texts)
        assert not room_state(texts), role


# Guest listeners (issue 18): the guest rows of the grid -----------------------------------------


def guest_sockets(guest: Guest, space: int) -> dict:
    """('audio' and 'live' each: 'in' with frames / room state, else the refusal or close)."""
    outcome = {}
    try:
        with guest.websocket(f"/spaces/{space}/audio") as ws:
            try:
                outcome["audio"] = "in" if isinstance(ws.recv(timeout=3), bytes) else "text"
            except Closed as closed:
                outcome["audio"] = closed.code
    except Refused as refused:
        outcome["audio"] = refused.status
    try:
        ws = guest.websocket(f"/spaces/{space}/live")
    except Refused as refused:
        outcome["live"] = refused.status
        return outcome
    texts = []
    with ws, contextlib.suppress(TimeoutError, Closed):
        while True:
            texts.append(ws.recv(timeout=0.5))
    outcome["live"] = "in" if ws.close_code is None and room_state(texts) else ws.close_code
    return outcome


def test_guest_sockets_follow_the_guest_rows_of_the_grid(world):
    """A guest holds the room's sockets exactly where the grid says they are in the Space
    (`leave`): listening, in a live Space that allows guests. Elsewhere: refused at the handshake
    (never listened, or the Space ended), or told and closed (guests turned off, or ended)."""
    server = world["server"]
    (host,) = server.sign_up("guesthost")
    space = host.open_space("Guests")
    present = {(s, r): m == "+" for s, r, a, m in GUEST_CELLS if a == "leave"}
    tabs = {"guest": Guest(server.url), "guest_in": Guest(server.url)}
    tabs["guest"].get(f"/spaces/{space}")
    tabs["guest_in"].listen_to(space)
    outcome = {}
    for state in ("live", "off", "ended"):
        if state == "off":
            data = {"title": "Guests", "description": "", "guests_shown": "1"}
            host.act(f"/spaces/{space}/edit", data)
        if state == "ended":
            host.act(f"/spaces/{space}/end")
        for role, tab in tabs.items():
            outcome[(state, role)] = guest_sockets(tab, space)
    print("guest sockets:", outcome)
    for key, got in outcome.items():
        if present[key]:
            assert got == {"audio": "in", "live": "in"}, key
        else:
            assert got["audio"] in (401, 403, 410), (key, got)
            assert got["live"] in (403, GUESTS_OFF, ENDED), (key, got)
    assert outcome[("off", "guest_in")]["live"] == GUESTS_OFF
    assert outcome[("ended", "guest_in")]["live"] == ENDED


# A guest's reaction (the grid's react column for guests): it reaches the others' pages as from
# "a guest" only while they listen, in a live Space that allows guests.
GUEST_REACT = {(s, r): m == "+" for s, r, a, m in GUEST_CELLS if a == "react"}


def guest_reacts(guest: Guest, space: int, ear: Ear) -> str:
    """The handshake's refusal (its status), 'closed', 'shown' (the host's page got it) or 'not
    shown' (the server answered the guest with a refusal, to them only)."""
    try:
        ws = guest.websocket(f"/spaces/{space}/live")
    except Refused as refused:
        return str(refused.status)
    with ws:
        start = time.monotonic()
        with contextlib.suppress(Closed):
            ws.send('{"type": "react", "reaction": "clap"}')
        try:
            while True:
                text = ws.recv(timeout=5)
                if '"mine": true' in text or 'id="status"' in text:
                    break
        except Closed:
            return "closed"
    if ear.wait_text(lambda t: '"from": "a guest"' in t, after=start, within=5):
        return "shown"
    return "not shown"


def test_a_guests_reaction_reaches_others_only_where_the_grid_allows(world):
    server = world["server"]
    outcome = {}
    for state in ("live", "off", "ended"):
        (host,) = server.sign_up(f"reacthost_{state}")
        space = host.open_space(f"Guests react {state}")
        tabs = {"guest": Guest(server.url), "guest_in": Guest(server.url)}
        tabs["guest"].get(f"/spaces/{space}")
        tabs["guest_in"].listen_to(space)
        page = host.listen(f"/spaces/{space}/live")
        try:
            assert page.wait_text(lambda t: "my-controls" in t, after=0, within=5)
            if state == "off":
                data = {"title": "Guests", "description": "", "guests_shown": "1"}
                host.act(f"/spaces/{space}/edit", data)
            if state == "ended":
                host.act(f"/spaces/{space}/end")
            for role, tab in tabs.items():
                outcome[(state, role)] = guest_reacts(tab, space, page)
        finally:
            page.stop()
    print("guest reactions:", outcome)
    for key, got in outcome.items():
        assert (got == "shown") == GUEST_REACT[key], (key, got)
    assert outcome[("live", "guest")] == "403", "a guest not listening is refused at the door"
    assert outcome[("off", "guest_in")] in ("closed", "not shown")


# Leaving, removed, blocked, logged out: with both sockets open ----------------------------------

# Seconds a socket has to close, from the action's answer (it takes milliseconds; the speed
# target is bench/realtime_targets.py's): only a socket that is never closed waits it out.
CLOSE_DEADLINE = 10.0
CAPTIONS_WITHIN = 60.0  # seconds for the first caption: the model loads, then hears a phrase
WAYS_OUT = {"left": LEFT, "removed": REMOVED, "blocked": REMOVED, "logged_out": LEFT}


def is_caption(text: str) -> bool:
    return "caption-partials" in text or 'class="caption"' in text


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    """A Space with live captions: the host (who allowed captions) speaks real speech, looped,
    on the audio socket; a watcher who stays in it with captions on keeps both sockets open."""
    server = LiveServer(tmp_path_factory.mktemp("authz-out"), CAPTIONS="1").start()
    ears: list[Ear] = []
    try:
        host, watcher = server.sign_up("host", "watcher")
        space = host.open_space("Captioned")
        room = f"/spaces/{space}"
        host.act(f"{room}/captions-consent", {"allow": "1"})
        host.act(f"{room}/mic", {"on": "1"})
        ears.append(host.speak(f"{room}/audio", speech("jfk")))
        watcher.join(space)
        watcher.act(f"{room}/captions-view", {"on": "1"})
        page, sound = watcher.listen(f"{room}/live"), watcher.listen(f"{room}/audio")
        ears += [page, sound]
        assert page.wait_text(is_caption, after=0, within=CAPTIONS_WITHIN), "no captions at all"
        yield {"server": server, "space": space, "host": host, "page": page, "sound": sound}
    finally:
        for ear in ears:
            ear.stop()
        server.stop()


def leave_by(how: str, person, host, space: int) -> None:
    room = f"/spaces/{space}"
    if how == "left":
        person.act(f"{room}/leave")
    elif how == "removed":
        host.act(f"{room}/people/{person.id}/remove")
    elif how == "blocked":
        host.act(f"{room}/people/{person.id}/block")
    else:
        status, _ = person.post("/logout", htmx=False)
        assert status == 200


@pytest.mark.model
def test_whoever_is_out_gets_no_caption_presence_or_audio_and_both_sockets_close(captioned):
    server, space, host = captioned["server"], captioned["space"], captioned["host"]
    room = f"/spaces/{space}"
    people = dict(zip(WAYS_OUT, server.sign_up(*WAYS_OUT), strict=True))
    sockets = {}
    for how, person in people.items():
        person.join(space)
        person.act(f"{room}/captions-view", {"on": "1"})
        sockets[how] = (person.listen(f"{room}/live"), person.listen(f"{room}/audio"))
    try:
        # While in, each gets what the others will stop getting: captions and sound.
        for how, (page, sound) in sockets.items():
            assert page.wait_text(is_caption, after=0, within=CAPTIONS_WITHIN), how
            sound.until(audible, within=5, what=f"the host's voice ({how})")
        cookies = {how: person.cookie_header() for how, person in people.items()}
        out_at = {}
        for how, person in people.items():
            leave_by(how, person, host, space)
            out_at[how] = time.monotonic()
            page, sound = sockets[how]
            wait_until(
                lambda p=page, s=sound: p.closed.is_set() and s.closed.is_set(),
                CLOSE_DEADLINE,
                what=f"{how}: both sockets closed",
            )
        for how, (page, sound) in sockets.items():
            # Closed by the server with the code that says why: a close frame, after which the
            # server sends nothing (its outbox is dead) and the client reads nothing.
            assert (page.close_code, sound.close_code) == (WAYS_OUT[how], WAYS_OUT[how]), how
            # So these are all the page got once out.
            after = [text for at, text in page.texts if at >= out_at[how]]
            assert not any(is_caption(t) for t in after), how
            assert not room_state(after), (how, room_state(after))
        # The positive control, in the same window: the watcher saw them go and still hears.
        first, last = min(out_at.values()), max(out_at.values())
        assert captioned["page"].wait_text(is_caption, after=first, within=CAPTIONS_WITHIN)
        assert wait_until(lambda: captioned["sound"].first_audible_after(last), 5), "no sound"
        listed = parse(host.get(room)).usernames("listeners-heading")
        assert not set(listed) & {p.username for p in people.values()}, listed
        assert last - first < CAPTIONS_WITHIN
    finally:
        for page, sound in sockets.values():
            page.stop()
            sound.stop()
    # Coming back with the same cookie: the audio socket is refused, the room's socket tells them
    # where they stand and closes (or, once logging out ends the session, is refused too), and the
    # page shows no captions.
    for how, cookie in cookies.items():
        with pytest.raises(Refused) as refused:
            WebSocket.connect(server.port, f"{room}/audio", cookie)
        assert refused.value.status in (401, 403), how
        try:
            ws = WebSocket.connect(server.port, f"{room}/live", cookie)
        except Refused as refused_live:
            assert how == "logged_out" and refused_live.status == 403
            continue
        texts = []
        with ws, contextlib.suppress(Closed):
            while True:
                texts.append(ws.recv(timeout=CLOSE_DEADLINE))
        assert ws.close_code == WAYS_OUT[how], how
        assert not room_state(texts) and not any(is_caption(t) for t in texts), how
    # Nor does the room page show them the last captions (removed and blocked: no room at all;
    # signed out: the room as a guest visitor sees it, read-only, until they listen as a guest).
    page_status = {"left": 200, "removed": 403, "blocked": 403, "logged_out": 200}
    for how, person in people.items():
        status, body = person.request("GET", room, htmx=False)
        assert status == page_status[how], how
        assert parse(body).by_id("captions") is None, how
