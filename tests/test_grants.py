"""Listener grants: what the core signs at join is what an edge reads back, and nothing else
passes: not a changed grant, not another server's, not an expired one, not one for another
Space, not the app's session cookie."""

import pytest
from flask import Flask, session

from spaces import grants
from spaces.grants import Grant, GrantRefused

KEY = "the app's secret"


def test_a_grant_reads_back_as_issued(clock):
    token = grants.issue(KEY, 7, 42, "listener")
    assert grants.check(KEY, token, 42) == Grant(7, 42, "listener", clock.now() + 120)


def test_it_works_until_it_expires(clock):
    token = grants.issue(KEY, 7, 42, "speaker", seconds=60)
    clock.advance(59)
    assert grants.check(KEY, token, 42).role == "speaker"
    clock.advance(1)
    with pytest.raises(GrantRefused, match="expired"):
        grants.check(KEY, token, 42)


def test_a_grant_for_another_space_is_refused(clock):
    token = grants.issue(KEY, 7, 42, "listener")
    with pytest.raises(GrantRefused, match="another Space"):
        grants.check(KEY, token, 43)


def test_another_servers_grant_is_refused(clock):
    token = grants.issue("another secret", 7, 42, "host")
    with pytest.raises(GrantRefused, match="not a grant"):
        grants.check(KEY, token, 42)


def test_a_changed_grant_is_refused(clock):
    token = grants.issue(KEY, 7, 42, "listener")
    body, signature = token.rsplit(".", 1)
    forged = grants.issue("guess", 7, 42, "host").rsplit(".", 1)[0] + "." + signature
    for bad in (forged, body + "." + signature[::-1], token[:-2], "", "a.b"):
        with pytest.raises(GrantRefused):
            grants.check(KEY, bad, 42)


def test_the_session_cookie_is_no_grant(clock):
    """Signed with the same key, but not under the grants' salt."""
    app = Flask(__name__)
    app.secret_key = KEY
    with app.test_request_context():
        session["u"], session["s"], session["r"], session["exp"] = 7, 42, "host", 2e9
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    with pytest.raises(GrantRefused):
        grants.check(KEY, cookie, 42)


def test_only_the_rooms_roles_are_granted():
    with pytest.raises(ValueError):
        grants.issue(KEY, 7, 42, "admin")
