"""Security headers, session cookies and the rate limits that bound every kind of input."""

from datetime import UTC, datetime

import pytest

from spaces import db as dbm
from spaces import notifications
from spaces.clock import now
from testkit.app import Browser, Client


def test_every_page_sends_the_security_headers(app, browser):
    user = browser("headers")
    for path in ("/", "/signup", "/u/headers", "/settings", "/static/app.css", "/nowhere"):
        response = user.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_carry_no_inline_script_and_htmx_is_configured_for_the_policy(browser):
    page = browser("noinline").get("/").get_data(as_text=True)
    assert "<script>" not in page and "onclick=" not in page and "hx-on" not in page
    assert '"allowEval":false' in page and '"includeIndicatorStyles":false' in page


def test_session_cookie_is_httponly_and_samesite(app):
    response = Client(app).fill("/signup", {"username": "cookie", "password": "correct horse"})
    assert response.status_code == 302  # signed up: the cookie is the signed-in session
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("path", "data", "allowed"),
    [
        ("/messages/target", {"body": "hello"}, 30),
        ("/reports/new", {"account": "target", "reason": "spam"}, 10),
        ("/posts", {"body": "hello"}, 30),
    ],
)
def test_rate_limits_refuse_floods_with_a_clear_message(limited_app, path, data, allowed):
    Browser(limited_app, "target")
    sender = Browser(limited_app, "flooder")
    statuses = [sender.post(path, data).status_code for _ in range(allowed + 2)]
    assert all(s < 400 for s in statuses[:allowed]), statuses
    refused = sender.post(path, data)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)


def test_requests_to_speak_are_rate_limited(limited_app):
    host = Browser(limited_app, "ratehost")
    host.post("/spaces/new", {"title": "Busy", "speaker_policy": "everyone"}, htmx=False)
    eager = Browser(limited_app, "eager")
    eager.post("/spaces/1/join")
    statuses = []
    for _ in range(12):
        statuses.append(eager.post("/spaces/1/request").status_code)
        eager.post("/spaces/1/cancel-request")
    assert 429 in statuses
    assert statuses[:10].count(429) == 0


def test_sign_ups_from_one_address_are_rate_limited(limited_app):
    client = Client(limited_app)
    statuses = [
        client.fill("/signup", {"username": f"bot{i}", "password": "correct horse"}).status_code
        for i in range(22)
    ]
    assert statuses[:20].count(429) == 0 and statuses[-1] == 429


def test_going_live_again_and_again_is_rate_limited_so_followers_are_not_flooded(limited_app):
    """Each start tells every follower (schedule.went_live): a host who starts and ends a Space in
    a loop, by `Start your Space` or a scheduled Space's `Start now`, is stopped after 10 an hour
    and their followers hear no more. Scheduling itself tells nobody and is not counted."""
    host, fan = Browser(limited_app, "looper"), Browser(limited_app, "fan")
    fan.post("/u/looper/follow")
    later = datetime.fromtimestamp(now() + 3600, UTC).isoformat()
    statuses = []
    for i in range(6):
        live = {"title": f"Loop {i}", "speaker_policy": "everyone"}
        response = host.post("/spaces/new", live, htmx=False)
        statuses.append(response.status_code)
        if response.status_code == 302:
            host.post(f"{response.headers['Location']}/end")
        planned = {**live, "schedule": "on", "start_utc": later}
        where = host.post("/spaces/new", planned, htmx=False).headers["Location"]
        response = host.post(f"{where}/start", htmx=False)
        statuses.append(response.status_code)
        host.post(f"{where}/end")
    assert statuses[:10] == [302] * 10 and statuses[10:] == [429, 429], statuses
    told = notifications.recent(dbm.connect(limited_app.config["DATABASE"]), fan.user["id"])
    assert [n["kind"] for n in told] == ["space_started"] * 10
