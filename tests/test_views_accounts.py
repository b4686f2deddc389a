"""Accounts over HTTP: sign up, log in, log out, CSRF, throttling, cookies, headers, 404s, XSS."""

import re
from urllib.parse import urlencode

import pytest

from spaces import db as dbm
from testkit.app import Client
from testkit.html_query import field_error, field_value, parse

PASSWORD = "correct horse"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def db_of(app):
    return dbm.connect(app.config["DATABASE"])


def user_count(app) -> int:
    return dbm.scalar(db_of(app), "SELECT COUNT(*) FROM users WHERE is_system = 0")


def sign_up(app, username: str = "alice", password: str = PASSWORD, path: str = "/signup"):
    """A new tab fills in the sign-up form (CSRF token included, as the page sends it)."""
    tab = Client(app)
    return tab, tab.fill(path, {"username": username, "password": password})


def log_in(tab: Client, username: str, password: str = PASSWORD, path: str = "/login"):
    return tab.fill(path, {"username": username, "password": password})


def signed_in(client) -> bool:
    return "Log out" in parse(client.get("/").data).buttons()


# Pages ---------------------------------------------------------------------------------------


def test_signup_page_has_labelled_fields_and_button(app):
    doc = parse(app.test_client().get("/signup").data)
    labels = [label.text for label in doc.find_all("label")]
    assert "Username" in labels and "Password" in labels
    assert doc.find("input", id="username") is not None
    assert doc.find("input", id="password").get("type") == "password"
    assert "Sign up" in doc.buttons()


def test_login_page_has_labelled_fields_and_button(app):
    doc = parse(app.test_client().get("/login").data)
    labels = [label.text for label in doc.find_all("label")]
    assert "Username" in labels and "Password" in labels
    assert "Log in" in doc.buttons()


def test_signup_signs_in_and_lands_on_home(app):
    client, response = sign_up(app)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = parse(client.get("/").data)
    assert "Log out" in home.buttons()
    assert "Create a Space" in home.links()


def test_visitor_sees_landing_page_not_timeline(app):
    doc = parse(app.test_client().get("/").data)
    assert "Sign up" in doc.links() and "Log in" in doc.links()
    assert "Log out" not in doc.buttons()
    assert doc.by_id("timeline") is None


def test_pages_for_members_send_visitors_to_login(app):
    response = app.test_client().get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/settings")


def test_log_out_and_log_back_in(browser, app):
    alice = browser("alice")
    response = alice.post("/logout", htmx=False)
    assert response.status_code == 302
    assert not signed_in(alice.client)
    assert alice.get("/settings").status_code == 302

    response = log_in(alice, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in(alice.client)


def test_login_is_case_insensitive_and_follows_next(browser):
    alice = browser("Alice")
    alice.post("/logout", htmx=False)
    response = log_in(alice, "alice", path="/login?next=/settings")
    assert response.headers["Location"] == "/settings"


def test_signup_follows_next_and_keeps_it_on_the_page(app):
    page = parse(app.test_client().get("/signup?next=/spaces/7").data)
    assert page.find("form", method="post").get("action") == "/signup?next=/spaces/7"
    assert page.by_id("content").links()["Log in"] == "/login?next=/spaces/7"
    _, response = sign_up(app, path="/signup?next=/spaces/7")
    assert response.headers["Location"] == "/spaces/7"


def test_login_page_sign_up_link_keeps_next(app):
    page = parse(app.test_client().get("/login?next=/spaces/7").data)
    assert page.by_id("content").links()["Sign up"] == "/signup?next=/spaces/7"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "javascript:x"])
def test_signup_never_redirects_off_site(app, target):
    _, response = sign_up(app, path=f"/signup?{urlencode({'next': target})}")
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "javascript:x"])
def test_login_never_redirects_off_site(browser, target):
    alice = browser("alice")
    alice.post("/logout", htmx=False)
    response = log_in(alice, "alice", path=f"/login?{urlencode({'next': target})}")
    assert response.headers["Location"] == "/"


# Errors next to the field, keeping what was typed ------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("bad name!", PASSWORD, "username", "1-30 letters, digits or underscores"),
        ("", PASSWORD, "username", "1-30 letters"),
        ("a" * 31, PASSWORD, "username", "1-30 letters"),
        ("alice", "short", "password", "at least 8 characters"),
        ("alice", "x" * 257, "password", "at most 256 characters"),
    ],
)
def test_signup_errors_show_next_to_the_field_and_keep_the_username(
    app, username, password, field, message
):
    _, response = sign_up(app, username, password)
    assert response.status_code == 400
    assert message in field_error(response.data, field)
    assert field_value(response.data, "username") == username
    # The field is marked invalid and points at its message.
    doc = parse(response.data)
    assert doc.find("input", name=field).get("aria-describedby") == f"{field}-error"
    # The password is never echoed back.
    assert field_value(response.data, "password") == ""
    assert user_count(app) == 0


def test_signup_shows_every_error_at_once(app):
    _, response = sign_up(app, "no way", "x")
    assert response.status_code == 400
    assert "1-30 letters" in field_error(response.data, "username")
    assert "at least 8 characters" in field_error(response.data, "password")
    assert user_count(app) == 0


def test_duplicate_username_is_refused_case_insensitively(app):
    sign_up(app, "alice")
    other, response = sign_up(app, "ALICE")
    assert response.status_code in (400, 409)
    assert "taken" in field_error(response.data, "username")
    assert field_value(response.data, "username") == "ALICE"
    assert user_count(app) == 1
    assert not signed_in(other)


def test_wrong_password_shows_error_keeps_username_and_does_not_sign_in(browser, app):
    browser("alice")
    client = Client(app)
    response = log_in(client, "alice", "not the one")
    assert response.status_code == 401
    assert "do not match" in field_error(response.data, "password")
    assert field_value(response.data, "username") == "alice"
    assert "not the one" not in response.data.decode()
    assert not signed_in(client)


def test_unknown_username_gets_the_same_message(app):
    response = log_in(Client(app), "ghost")
    assert response.status_code == 401
    assert "do not match" in field_error(response.data, "password")


# CSRF ----------------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused_and_changes_nothing(app):
    client = app.test_client()
    client.get("/signup")
    response = client.post("/signup", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    doc = parse(response.data)
    assert "did not come from this site" in doc.text
    assert "Reload the page" in doc.text
    assert user_count(app) == 0


def test_post_with_a_forged_token_is_refused(app):
    client = app.test_client()
    client.get("/signup")
    response = client.post(
        "/signup",
        data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert user_count(app) == 0


def test_signed_in_action_without_token_is_refused_and_changes_nothing(app, browser):
    # The tabs' own Flask clients: the session cookie, and no token unless the test adds one.
    alice = browser("alice").client
    browser("bob")
    db = db_of(app)

    response = alice.post("/posts", data={"body": "hello"})
    assert response.status_code == 400
    assert "did not come from this site" in response.data.decode()
    response = alice.post("/u/bob/follow", headers={"HX-Request": "true"})
    assert response.status_code == 400
    # An htmx request gets the message as a fragment for the page's alert region, swapping nothing.
    assert response.headers.get("HX-Reswap") == "none"
    assert 'role="alert"' in response.data.decode()
    assert "did not come from this site" in response.data.decode()
    response = alice.post("/logout")
    assert response.status_code == 400
    assert signed_in(alice)

    assert dbm.scalar(db, "SELECT COUNT(*) FROM posts") == 0
    assert dbm.scalar(db, "SELECT COUNT(*) FROM follows") == 0


def test_htmx_post_with_token_header_from_meta_tag_is_accepted(app, browser):
    alice = browser("alice").client
    browser("bob")
    html = alice.get("/u/bob").data.decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    response = alice.post("/u/bob/follow", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert "Unfollow" in parse(response.data).buttons()
    response = alice.post(
        "/posts", data={"body": "hello"}, headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert "hello" in parse(response.data).by_id("timeline").text
    db = db_of(app)
    assert dbm.scalar(db, "SELECT COUNT(*) FROM follows") == 1
    assert dbm.scalar(db, "SELECT COUNT(*) FROM posts") == 1


# Login throttling ----------------------------------------------------------------------------


def test_sixth_login_after_five_failures_is_refused_even_with_right_password(limited_app):
    sign_up(limited_app, "alice")
    client = Client(limited_app)
    for _ in range(5):
        response = log_in(client, "alice", "wrong guess")
        assert response.status_code == 401
    response = log_in(client, "alice")
    assert response.status_code == 429
    doc = parse(response.data)
    assert "Too many attempts" in doc.text and "wait" in doc.text
    assert not signed_in(client)


def test_throttling_is_per_username_and_only_counts_failures(limited_app):
    for name in ("alice", "bob"):
        sign_up(limited_app, name)
    client = Client(limited_app)
    # Successful logins do not count against anyone.
    for _ in range(6):
        response = log_in(client, "bob")
        assert response.status_code == 302
    for _ in range(5):
        log_in(client, "alice", "wrong guess")
    assert log_in(client, "Alice").status_code == 429
    # Another account from the same address is still let in.
    assert log_in(client, "bob").status_code == 302


# Cookies and headers -------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(app):
    _, response = sign_up(app)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/u/nobody", "/settings"])
def test_security_headers_on_every_page(browser, path):
    alice = browser("alice")
    response = alice.get(path)
    csp = _csp(response)
    script_src = csp.get("script-src", csp.get("default-src"))
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in (
        "same-origin",
        "no-referrer",
        "strict-origin",
        "strict-origin-when-cross-origin",
    )


def test_pages_have_no_inline_script_the_policy_would_block(browser):
    alice = browser("alice")
    alice.post("/spaces/new", data={"title": "Room", "speaker_policy": "everyone"}, htmx=False)
    for path in ("/", "/login", "/u/alice", "/settings", "/messages", "/spaces/1", "/spaces/new"):
        html = alice.get(path).data.decode()
        doc = parse(html)
        for script in doc.find_all("script"):
            assert script.get("src"), f"inline script on {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler on {path}"


# Not found -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/u/nobody", "No such account."),
        ("/messages/nobody", "No such account."),
        ("/spaces/999", "There is no such Space."),
        ("/no/such/page", "There is nothing here."),
    ],
)
def test_unknown_things_get_a_404_page_in_site_style(browser, path, message):
    alice = browser("alice")
    response = alice.get(path)
    assert response.status_code == 404
    doc = parse(response.data)
    assert doc.find("h1").text == "Not found"
    assert message in doc.text
    assert "Log out" in doc.buttons()  # the site's own layout, with its navigation
    assert doc.find("link", rel="stylesheet") is not None
    assert "Traceback" not in doc.text


# HTML in user text is shown as text ----------------------------------------------------------


def _assert_escaped(html: str):
    assert SCRIPT not in html
    assert ESCAPED in html


def test_bio_with_script_is_shown_as_text(browser):
    alice = browser("alice")
    response = alice.post(
        "/settings",
        data={"display_name": "Alice " + SCRIPT, "bio": SCRIPT},
        htmx=False,
    )
    assert response.status_code == 200
    _assert_escaped(response.data.decode())
    bob = browser("bob")
    html = bob.get("/u/alice").data.decode()
    _assert_escaped(html)
    assert "Alice " + SCRIPT not in html


def test_post_with_script_is_shown_as_text(browser):
    alice = browser("alice")
    alice.post("/posts", data={"body": SCRIPT}, htmx=False)
    _assert_escaped(alice.get("/").data.decode())
    _assert_escaped(browser("bob").get("/u/alice").data.decode())


def test_message_with_script_is_shown_as_text(browser):
    alice, bob = browser("alice"), browser("bob")
    response = alice.post("/messages/bob", data={"body": SCRIPT})
    assert response.status_code == 200
    _assert_escaped(response.data.decode())
    _assert_escaped(bob.get("/messages").data.decode())
    _assert_escaped(bob.get("/messages/alice").data.decode())


def test_space_title_and_description_with_script_are_shown_as_text(browser):
    alice, bob = browser("alice"), browser("bob")
    bob.post("/u/alice/follow")
    response = alice.post(
        "/spaces/new",
        data={"title": SCRIPT, "description": SCRIPT, "speaker_policy": "everyone"},
        htmx=False,
    )
    room = response.headers["Location"]
    _assert_escaped(alice.get(room).data.decode())
    _assert_escaped(bob.get(room).data.decode())
    _assert_escaped(bob.get("/").data.decode())  # Live now
    _assert_escaped(bob.get("/reports/new?space=1").data.decode())


def test_message_link_with_javascript_scheme_is_refused(browser):
    alice, bob = browser("alice"), browser("bob")
    response = alice.post("/messages/bob", data={"body": "hi", "link": "javascript:alert(1)"})
    assert response.status_code == 400
    assert "http://, https:// or /" in field_error(response.data, "link")
    assert field_value(response.data, "body") == "hi"
    assert 'href="javascript:' not in bob.get("/messages/alice").data.decode()
