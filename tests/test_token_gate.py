"""Every route in the app's url_map, sent an admin's API token: outside web.TOKEN_ENDPOINTS the
answer is exactly a signed-out person's and nothing changes; inside, the token is honoured.

The token's owner is an admin, hosts a live Space, has posts, messages, a report to review and a
second token, so any route that honoured the token would answer or change something."""

import itertools

import pytest
from werkzeug.routing.converters import AnyConverter

from spaces import accounts, messages, notifications, posts, reports, rooms, sessions, tokens
from spaces import db as dbm
from spaces.web import TOKEN_ENDPOINTS

PASSWORD = "correct horse"

# A form that would change something on any route that accepted it. The username is no valid
# name, so sign-up, log-in and /api/token refuse it whoever asks.
FORM = {
    "body": "sent with a token",
    "display_name": "Token",
    "bio": "token",
    "protected": "on",
    "caption_consent": "on",
    "current_password": PASSWORD,
    "new_password": "battery staple",
    "new_password_again": "battery staple",
    "title": "Renamed by a token",
    "description": "token",
    "speaker_policy": "invited",
    "on": "1",
    "allow": "1",
    "reason": "spam",
    "details": "token",
    "decision": "violation",
    "rule": "spam",
    "note": "token",
    "outcome": "overturned",
    "text": "token",
    "usernames": "bob",
    "username": "!",
    "password": PASSWORD,
}

# Tables a person would notice changing (sessions and tokens included: a token must not end them).
WATCHED = {
    "users": "SELECT id, username, password_hash, display_name, bio, protected, caption_consent,"
    " view_captions, is_admin FROM users",
    "sessions": "SELECT id_hash, user_id FROM sessions",
    "api_tokens": "SELECT id, user_id FROM api_tokens",
    "posts": "SELECT id, author_id, body FROM posts",
    "messages": "SELECT id, sender_id, body FROM messages",
    "follows": "SELECT * FROM follows",
    "follow_requests": "SELECT * FROM follow_requests",
    "blocks": "SELECT * FROM blocks",
    "reports": "SELECT id, state, rule, note, appeal_text FROM reports",
    "spaces": "SELECT id, title, description, speaker_policy, ended_at FROM spaces",
    "participants": "SELECT space_id, user_id, role, present, requested_at, mic_on"
    " FROM participants",
    "space_invites": "SELECT * FROM space_invites",
    "space_removals": "SELECT * FROM space_removals",
    "notifications": "SELECT id, read_at FROM notifications",
    "notify_follow_spaces": "SELECT id, notify_follow_spaces FROM users",
}


class World:
    """The admin `root` hosting a Space that `bob` listens in, and root's token."""

    def __init__(self, app) -> None:
        self.app = app
        self.db = dbm.connect(app.config["DATABASE"])
        root = accounts.sign_up(self.db, "root", PASSWORD)
        bob = accounts.sign_up(self.db, "bob", PASSWORD)
        sessions.start(self.db, root["id"], max_age=86400)  # signed in in a browser, too
        self.db.execute("UPDATE users SET is_admin = 1 WHERE id = ?", (root["id"],))
        space = rooms.create(self.db, root, "Gate", "", "everyone")
        rooms.join(self.db, space["id"], bob)
        rooms.request_to_speak(self.db, space["id"], bob)
        posts.create(self.db, root["id"], "root's post")
        message = messages.send(self.db, bob["id"], root["id"], "hello root")
        report = reports.create(self.db, bob["id"], "spam", space_id=space["id"])
        notifications.add(self.db, root["id"], "x", "for the gate", "/")
        spare = tokens.issue(self.db, root["id"], days=30)
        self.token = tokens.issue(self.db, root["id"], days=30)
        self.spare = spare
        self.values = {
            "space_id": space["id"],
            "user_id": bob["id"],
            "report_id": report["id"],
            "recording_id": 1,
            "message_id": message["id"],
            "username": "bob",
            "name": "remove",
            "token_id": tokens.for_user(self.db, root["id"])[1]["id"],  # the spare
            "filename": "app.css",
            "notification_id": notifications.recent(self.db, root["id"])[0]["id"],
            "version": "0123456789ab",  # a profile picture that does not exist
        }

    def snapshot(self) -> dict:
        return {name: sorted(map(tuple, self.db.execute(sql))) for name, sql in WATCHED.items()}

    def cases(self):
        """(endpoint, method, path, is a websocket) for every rule, every choice of its `any`."""
        adapter = self.app.url_map.bind("localhost")
        for rule in self.app.url_map.iter_rules():
            choices = []
            for arg in sorted(rule.arguments):
                converter = rule._converters[arg]
                if isinstance(converter, AnyConverter):
                    choices.append([(arg, item) for item in sorted(converter.items)])
                else:
                    choices.append([(arg, self.values[arg])])
            for combination in itertools.product(*choices):
                path = adapter.build(rule.endpoint, dict(combination))
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    yield rule.endpoint, method, path, rule.websocket

    def send(self, method: str, path: str, websocket: bool, token: str | None, htmx: bool):
        headers = {"HX-Request": "true"} if htmx else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if websocket:  # the handshake's checks run before the upgrade; no socket is opened
            headers.update(Upgrade="websocket", Connection="Upgrade", Origin="http://localhost")
        client = self.app.test_client()  # a fresh one: no cookie from an earlier answer
        response = client.open(
            path,
            method=method,
            data=FORM if method == "POST" else None,
            query_string={"space": self.values["space_id"]} if method == "GET" else None,
            headers=headers,
        )
        return (
            response.status_code,
            response.headers.get("Location"),
            response.headers.get("HX-Redirect"),
            response.headers.get("Set-Cookie", "").startswith("session="),
        )


@pytest.mark.parametrize("app_name", ["app", "csrf_app"])
@pytest.mark.parametrize("htmx", [True, False])
def test_a_token_is_a_signed_out_request_everywhere_but_the_allow_list(request, app_name, htmx):
    world = World(request.getfixturevalue(app_name))
    cases = list(world.cases())
    endpoints = {endpoint for endpoint, *_ in cases}
    assert endpoints >= TOKEN_ENDPOINTS  # the allow-list names real routes
    assert {"settings.page", "admin.queue", "home.create_post", "messages.send"} <= endpoints

    before = world.snapshot()
    checked = []
    for endpoint, method, path, websocket in cases:
        if endpoint in TOKEN_ENDPOINTS:
            continue
        as_token = world.send(method, path, websocket, world.token, htmx)
        signed_out = world.send(method, path, websocket, None, htmx)
        assert as_token == signed_out, (method, path)
        checked.append(endpoint)
    assert world.snapshot() == before, "a token changed something outside the allow-list"
    assert set(checked) == endpoints - TOKEN_ENDPOINTS
    # Both of root's tokens still work: no route above revoked one or changed the password.
    assert tokens.user_id_for(world.db, world.spare) is not None


def test_the_allow_list_is_what_the_terminal_client_uses(app):
    """Each endpoint on the list answers a token as its owner, not as a stranger."""
    world = World(app)
    space = world.values["space_id"]
    fan = accounts.sign_up(world.db, "fan", PASSWORD)
    token = tokens.issue(world.db, fan["id"], days=30)
    headers = {"Authorization": f"Bearer {token}", "HX-Request": "true"}
    # As `spaces` sends (spaces/cli/api.py): no cookie jar, so never a cookie (the room page sets
    # one, for its CSRF token), so no CSRF token is asked of it.
    client = app.test_client(use_cookies=False)
    answers = {
        "rooms.room": client.get(f"/spaces/{space}", headers=headers),
        "rooms.join": client.post(f"/spaces/{space}/join", headers=headers),
        "edge_address.address": client.get(f"/spaces/{space}/audio-address", headers=headers),
        "rooms.request_to_speak": client.post(f"/spaces/{space}/request", headers=headers),
        "rooms.self_action": client.post(f"/spaces/{space}/cancel-request", headers=headers),
        "rooms.leave": client.post(f"/spaces/{space}/leave", headers=headers),
    }
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 200)
    client.post(f"/spaces/{space}/join", headers=headers)
    answers["rooms.mic"] = client.post(f"/spaces/{space}/mic", data={"on": "1"}, headers=headers)
    # The room's own answer to a listener, not a sign-in page.
    assert answers["rooms.mic"].status_code == 403
    assert "speaker" in answers["rooms.mic"].data.decode().lower()
    client.post(f"/spaces/{space}/leave", headers=headers)
    assert set(answers) | {"audio.audio"} == TOKEN_ENDPOINTS  # the socket: test_sessions_live.py
    row = dbm.one(
        world.db, "SELECT present, left_at FROM participants WHERE user_id = ?", (fan["id"],)
    )
    assert row["present"] == 0 and row["left_at"] is not None
