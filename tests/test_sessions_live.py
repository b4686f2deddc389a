"""Ended sessions and tokens against a live server: both sockets refuse the handshake of a session
that logout or a password change ended, a token never opens the room's live socket, and the
terminal client tells its owner to sign in again once the token is revoked."""

import http.cookiejar
import json
import os
import re
import urllib.parse
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from spaces.cli.api import Api, SpaceURL
from spaces.cli.exits import EXIT_REFUSED, CliError
from spaces.cli.link import AudioLink
from testkit.http_user import HttpUser, csrf_token

pytestmark = pytest.mark.live

PASSWORD = "correct horse"


def log_in_elsewhere(server, username: str) -> dict:
    """The Cookie header of another browser that logged in to the account through the form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(server.url + "/login", timeout=10) as page:
        token = csrf_token(page.read().decode())
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    with opener.open(server.url + "/login", urllib.parse.urlencode(form).encode(), timeout=10):
        pass
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in jar)}


def name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}"


def space_with_listener(server, host_name: str, listener_name: str) -> tuple[HttpUser, int]:
    host = HttpUser(server.url, name(host_name))
    status, body = host.post(
        "/spaces/new", {"title": "Sessions", "speaker_policy": "everyone"}, htmx=False
    )
    assert status == 200, body
    space_id = int(re.search(r'data-space-id="(\d+)"', body).group(1))
    listener = HttpUser(server.url, name(listener_name))
    assert listener.post(f"/spaces/{space_id}/join")[0] == 200
    return listener, space_id


def handshake(server, space_id: int, socket: str, headers: dict) -> int:
    """The status the socket's handshake answers: 101 when it opens."""
    url = server.url.replace("http://", "ws://") + f"/spaces/{space_id}/{socket}"
    try:
        with connect(url, origin=server.url, additional_headers=headers, open_timeout=5):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def cookie(person: HttpUser) -> dict:
    return {"Cookie": person.cookie_header()}


def test_a_socket_handshake_with_a_session_ended_by_logout_is_refused(live_server):
    server = live_server
    listener, space_id = space_with_listener(server, "host_a", "fan_a")
    copied = cookie(listener)
    assert handshake(server, space_id, "live", copied) == 101
    assert handshake(server, space_id, "audio", copied) == 101

    listener.post("/logout", htmx=False)

    assert handshake(server, space_id, "audio", copied) == 401  # signed out, not merely absent
    assert handshake(server, space_id, "live", copied) == 403


def test_a_password_change_ends_the_other_sessions_sockets_but_not_this_ones(live_server):
    server = live_server
    listener, space_id = space_with_listener(server, "host_b", "fan_b")
    laptop = log_in_elsewhere(server, listener.username)
    assert handshake(server, space_id, "audio", laptop) == 101

    status, _ = listener.post(
        "/settings/password",
        {
            "current_password": PASSWORD,
            "new_password": "battery staple",
            "new_password_again": "battery staple",
        },
        htmx=False,
    )
    assert status == 200

    assert handshake(server, space_id, "audio", laptop) == 401
    assert handshake(server, space_id, "live", laptop) == 403
    assert handshake(server, space_id, "audio", cookie(listener)) == 101
    assert handshake(server, space_id, "live", cookie(listener)) == 101


def test_a_revoked_token_is_refused_and_the_client_says_to_sign_in_again(live_server):
    server = live_server
    listener, space_id = space_with_listener(server, "host_c", "fan_c")
    form = urllib.parse.urlencode({"username": listener.username, "password": PASSWORD})
    with urllib.request.urlopen(server.url + "/api/token", form.encode(), timeout=10) as answer:
        token = json.load(answer)["token"]
    url = SpaceURL.parse(f"{server.url}/spaces/{space_id}")
    bearer = {"Authorization": f"Bearer {token}"}

    assert Api(url.server, token).me(space_id) is not None
    with AudioLink(url, token):
        pass
    assert handshake(server, space_id, "live", bearer) == 403  # the page's socket: never a token

    revoke = re.search(r'action="(/settings/tokens/\d+/revoke)"', listener.get("/settings"))
    assert listener.post(revoke.group(1))[0] == 200

    assert handshake(server, space_id, "audio", bearer) == 401
    for attempt in (
        lambda: Api(url.server, token).me(space_id),
        lambda: AudioLink(url, token).open(),
    ):
        with pytest.raises(CliError) as refused:
            attempt()
        assert refused.value.code == EXIT_REFUSED
        assert "your token expired or was revoked" in refused.value.message
        assert f"Run: spaces login {url.server}" in refused.value.message
