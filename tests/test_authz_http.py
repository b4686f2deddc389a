"""The authorization matrix over HTTP: every role against every action, in a live Space and an
ended one, through the real routes.

The expected answer of each cell is the hand-written grid of test_policy.py. Here each cell puts
a person in that role in a fresh Space (through the domain), sends the action's request as that
person, and checks the answer: allowed cells succeed, refused cells get a refusal (the sign-in
page, 400, 403, 404 or 409) and change nothing in the database. Each request carries the CSRF
token its page would, so a refusal is the rule's, never a missing token's. Sending audio and
reacting are socket actions: test_authz_sockets.py covers them with the room's socket messages.
Seeing the raised hands is a part of the room page: its cells look for it there.
"""

import itertools

import pytest
from test_policy import CELLS, GUEST_CELLS, SCHEDULED_CELLS

from spaces import accounts, blocks, cohosts, posts, reports, rooms, schedule
from spaces.clock import now
from spaces.db import connect
from testkit.app import Client, configured_app, signed_in

# Sending audio and reacting are socket messages (test_authz_sockets.py has their cells).
HTTP_CELLS = [c for c in CELLS if c[2] not in ("send_audio", "react")]

# What each refused cell may change: nothing a person would notice in the room or the app.
WATCHED = {
    "spaces": "SELECT id, title, description, speaker_policy, ended_at, ended_reason FROM spaces",
    "participants": "SELECT space_id, user_id, role, present, requested_at, mic_on"
    " FROM participants",
    "space_invites": "SELECT space_id, user_id FROM space_invites",
    "space_removals": "SELECT * FROM space_removals",
    "blocks": "SELECT * FROM blocks",
    "reports": "SELECT id, space_id, account_id, state, rule FROM reports",
    "messages": "SELECT id, sender_id, body FROM messages",
    "posts": "SELECT id, author_id, body FROM posts",
    "view_captions": "SELECT id, view_captions FROM users",
    "cohosts": "SELECT space_id, user_id FROM participants WHERE cohost = 1",
    "space_pins": "SELECT space_id, post_id FROM space_pins",
}


class World:
    """One app and database for the whole matrix; every cell gets new people and a new Space."""

    def __init__(self, app) -> None:
        self.app = app
        self.db = connect(app.config["DATABASE"])
        self.ids = itertools.count(1)

    def person(self, kind: str, **flags) -> dict:
        """An account made directly (argon2 for 2,000 accounts would take minutes)."""
        cur = self.db.execute(
            "INSERT INTO users (username, password_hash, display_name, created_at, is_admin,"
            " protected) VALUES (?, 'x', ?, ?, ?, ?)",
            (
                f"{kind[:12]}{next(self.ids)}",
                kind,
                now(),
                int(flags.get("is_admin", False)),
                int(flags.get("protected", False)),
            ),
        )
        return accounts.get(self.db, cur.lastrowid)

    def client(self, user: dict | None) -> Client:
        return signed_in(self.app, user["id"] if user is not None else None)

    def snapshot(self) -> dict:
        return {name: sorted(map(tuple, self.db.execute(sql))) for name, sql in WATCHED.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(configured_app(tmp_path_factory.mktemp("authz")))


def arrange(w: World, role: str, state: str, action: str) -> dict:
    """A Space, the acting person in `role`, a suitable target, and a report to decide."""
    db = w.db
    host = w.person("host")
    sid = rooms.create(db, host, "Matrix", "", "everyone")["id"]
    me = None
    if role in ("host", "host_away"):
        me = host
    elif role != "anonymous":
        me = w.person(
            role, is_admin=role.startswith("admin"), protected=role.startswith("protected")
        )
        if role not in ("stranger", "admin", "protected", "blocked_by_host"):
            rooms.join(db, sid, me)
        if role == "requester":
            rooms.request_to_speak(db, sid, me)
        if role == "invited":
            rooms.invite(db, sid, host, me["id"])
        if role in ("speaker", "speaker_mic_on", "protected_speaker"):
            rooms.make_speaker(db, sid, host, me["id"])
        if role == "speaker_mic_on":
            rooms.set_mic(db, sid, me, True)
        if role == "cohost":
            cohosts.make_cohost(db, sid, host, me["id"])
        if role == "removed":
            rooms.remove(db, sid, host, me["id"])
        if role == "blocked_by_host":
            blocks.block(db, host["id"], me["id"])
    target = w.person("target")
    if action != "invite":  # invite's target is someone not in the room (a DM invitation)
        rooms.join(db, sid, target)
    if action in ("approve", "deny"):
        rooms.request_to_speak(db, sid, target)
    if action in ("move_to_listeners", "mute"):
        rooms.make_speaker(db, sid, host, target["id"])
    if action == "mute":
        rooms.set_mic(db, sid, target, True)
    if action == "allow_back":  # the host removed them: the Removed list's Allow back
        rooms.remove(db, sid, host, target["id"])
    if action == "remove_cohost":
        cohosts.make_cohost(db, sid, host, target["id"])
    report = reports.create(db, target["id"], "spam", space_id=sid)
    post = posts.create(db, (me or target)["id"], "Pin me")  # the actor's own (pin)
    if state == "ended":
        rooms.end(db, sid, host)
    elif role == "host_away":  # the host closed the tab: away, and still the host
        rooms.leave(db, sid, host["id"])
    return {"space": sid, "me": me, "target": target, "report": report["id"], "post": post["id"]}


def send(client: Client, action: str, case: dict):
    """The action's request as its page sends it: the room's buttons through htmx, the report and
    decision forms as plain forms."""
    room = f"/spaces/{case['space']}"
    target = case["target"]
    plain = {
        "join": "join",
        "leave": "leave",
        "request": "request",
        "cancel_request": "cancel-request",
        "accept_invite": "accept-invite",
        "stop_speaking": "stop-speaking",
        "end": "end",
        "share": "share/post",
    }
    if action in ("view", "see_raised_hands"):
        return client.get(room)
    if action in plain:
        return client.post(f"{room}/{plain[action]}")
    forms = {
        "mic": ("mic", {"on": "1"}),
        "view_captions": ("captions-view", {"on": "1"}),
        "edit": ("edit", {"title": "Renamed", "description": "new"}),
        "set_policy": ("policy", {"speaker_policy": "invited"}),
    }
    if action in forms:
        path, data = forms[action]
        return client.post(f"{room}/{path}", data)
    if action == "report_space":
        return client.post("/reports/new", {"space": case["space"], "reason": "spam"}, htmx=False)
    if action == "report":
        data = {"account": target["username"], "space": case["space"], "reason": "spam"}
        return client.post("/reports/new", data, htmx=False)
    if action == "pin":
        return client.post(f"{room}/pin", {"post_id": case["post"]})
    if action == "end_for_violation":
        data = {"decision": "end_for_violation", "rule": "spam"}
        return client.post(f"/admin/reports/{case['report']}/decide", data, htmx=False)
    name = action.replace("_", "-")
    return client.post(f"{room}/people/{target['id']}/{name}")


def allowed(response) -> bool:
    if response.status_code == 302:
        return "/login" not in response.headers["Location"]
    return response.status_code == 200


@pytest.mark.parametrize(
    ("state", "role", "action", "mark"),
    HTTP_CELLS,
    ids=[f"{s}-{r}-{a}" for s, r, a, _ in HTTP_CELLS],
)
def test_http_cell(world, state, role, action, mark):
    if role == "anonymous" and action == "view":
        # A signed-out tab that opens a Space is a guest visitor (issue 18): the guest row says.
        mark = GUEST_MARKS[(state, "guest", "view")]
    case = arrange(world, role, state, action)
    before = world.snapshot()
    response = send(world.client(case["me"]), action, case)
    if action == "end_for_violation" and case["me"] and case["me"]["is_admin"]:
        # An admin's decision stands even if the Space ended meanwhile (the host ended it while
        # they reviewed): only the ending is refused. test_moderation.py checks the decision.
        ended = world.db.execute(
            "SELECT ended_reason FROM spaces WHERE id = ?", (case["space"],)
        ).fetchone()
        assert (ended[0] == "violation") == (mark == "+")
        return
    if action == "see_raised_hands":  # a part of the room page (issue 17), not a request
        shown = 'id="hands-heading"' in response.get_data(as_text=True)
        assert shown == (mark == "+"), response.status_code
        return
    if mark == "+":
        assert allowed(response), (response.status_code, response.get_data(as_text=True)[:300])
    else:
        assert not allowed(response), response.get_data(as_text=True)[:300]
        assert response.status_code in (302, 400, 401, 403, 404, 409, 410)
        assert "did not come from this site" not in response.get_data(as_text=True)  # not CSRF
        assert world.snapshot() == before, "a refused request changed something"


GUEST_MARKS = {(s, r, a): m for s, r, a, m in GUEST_CELLS}


def test_http_matrix_size():
    print(f"authorization matrix over HTTP: {len(HTTP_CELLS)} cells")
    assert len(HTTP_CELLS) >= 700


# Scheduled Spaces (issue 18): test_policy.py's SCHEDULED_GRID through the real routes.
SCHEDULED_WATCHED = {
    "spaces": "SELECT id, scheduled_for, ended_at, ended_reason FROM spaces",
    "participants": "SELECT space_id, user_id, role, present FROM participants",
    "space_reminders": "SELECT space_id, user_id FROM space_reminders",
}
SCHEDULED_REQUESTS = {
    "view": ("GET", "", None),
    "join": ("POST", "/join", {}),
    "set_reminder": ("POST", "/reminder", {"on": "1"}),
    "start_now": ("POST", "/start", {}),
    "cancel": ("POST", "/cancel", {}),
}


@pytest.mark.parametrize(("role", "action", "mark"), SCHEDULED_CELLS)
def test_http_scheduled_cell(world, role, action, mark):
    db = world.db
    host = world.person("host")
    sid = schedule.create(db, host, "Later", "", "everyone", now() + 3600)["id"]
    me = None
    if role in ("host", "protected_host"):
        me = host
        if role == "protected_host":
            db.execute("UPDATE users SET protected = 1 WHERE id = ?", (host["id"],))
    elif role != "anonymous":
        me = world.person(role, is_admin=role == "admin")
        if role == "blocked_by_host":
            blocks.block(db, host["id"], me["id"])
    method, path, data = SCHEDULED_REQUESTS[action]
    before = {k: sorted(map(tuple, db.execute(q))) for k, q in SCHEDULED_WATCHED.items()}
    client = world.client(me)
    url = f"/spaces/{sid}{path}"
    response = client.get(url) if method == "GET" else client.post(url, data, htmx=False)
    after = {k: sorted(map(tuple, db.execute(q))) for k, q in SCHEDULED_WATCHED.items()}
    if mark == "+":
        assert allowed(response), (response.status_code, response.get_data(as_text=True)[:300])
        assert (after != before) == (method == "POST")
    else:
        assert not allowed(response), response.get_data(as_text=True)[:300]
        assert response.status_code in (302, 401, 403, 404, 409)
        assert after == before, "a refused request changed something"


# Guest listeners (issue 18): the guest rows of test_policy.py's grid, through the same routes.
# A guest's own actions have routes of their own; anything else they try is an account's route.
GUEST_HTTP_CELLS = [c for c in GUEST_CELLS if c[2] not in ("send_audio", "react")]  # sockets
GUEST_ROUTES = {"join": "listen", "leave": "guest/leave", "view_captions": "guest/captions"}


def arrange_guest(w: World, role: str, state: str, action: str) -> tuple[Client, dict]:
    """A Space (guests allowed or not, live or ended), a visitor's tab, listening for `guest_in`
    (before the host turned guests off or ended it), and what `arrange` gives any cell."""
    case = arrange(w, "anonymous", "live", action)
    tab = w.client(None)
    tab.get(f"/spaces/{case['space']}")
    if role == "guest_in":
        assert tab.post(f"/spaces/{case['space']}/listen").status_code == 200
    if state == "off":
        w.db.execute("UPDATE spaces SET allow_guests = 0 WHERE id = ?", (case["space"],))
    if state == "ended":
        rooms.end(w.db, case["space"], None)  # as the system ends one
    return tab, case


@pytest.mark.parametrize(
    ("state", "role", "action", "mark"),
    GUEST_HTTP_CELLS,
    ids=[f"{s}-{r}-{a}" for s, r, a, _ in GUEST_HTTP_CELLS],
)
def test_guest_http_cell(world, state, role, action, mark):
    tab, case = arrange_guest(world, role, state, action)
    before = world.snapshot()
    if action in GUEST_ROUTES:
        response = tab.post(f"/spaces/{case['space']}/{GUEST_ROUTES[action]}", {"on": "1"})
    else:
        response = send(tab, action, case)
    if action == "see_raised_hands":  # a part of the room page, not a request
        assert ('id="hands-heading"' in response.get_data(as_text=True)) == (mark == "+")
        return
    if mark == "+":
        assert allowed(response), (response.status_code, response.get_data(as_text=True)[:300])
    else:
        assert not allowed(response), response.get_data(as_text=True)[:300]
        assert response.status_code in (302, 400, 401, 403, 404, 409, 410)
        assert "did not come from this site" not in response.get_data(as_text=True)  # not CSRF
        assert world.snapshot() == before, "a guest's refused request changed something"


# A guest's reactions are socket messages (test_authz_sockets.py sends them); over HTTP the grid's
# react cells show as the page's Reactions group, and there is no route to react through.
GUEST_REACT_CELLS = [c for c in GUEST_CELLS if c[2] == "react"]


@pytest.mark.parametrize(
    ("state", "role", "action", "mark"),
    GUEST_REACT_CELLS,
    ids=[f"{s}-{r}-{a}" for s, r, a, _ in GUEST_REACT_CELLS],
)
def test_guest_react_cell_is_the_pages_reactions_group(world, state, role, action, mark):
    tab, case = arrange_guest(world, role, state, action)
    page = tab.get(f"/spaces/{case['space']}").get_data(as_text=True)
    assert ("data-reactions" in page) == (mark == "+")
    assert ('data-hand="raise"' in page) is False, "no guest gets a hand to raise"
    assert tab.post(f"/spaces/{case['space']}/react", {"reaction": "clap"}).status_code in (
        404,
        405,
    )
