"""Sessions and tokens over HTTP: logout ends the session wherever its cookie went, Change password
ends every other session and token, Settings lists tokens with Revoke, and a token reaches only
what the terminal client needs."""

import re

import pytest

from spaces import db as dbm
from spaces import rooms
from testkit.app import Client
from testkit.html_query import field_error, parse

PASSWORD = "correct horse"
NEW_PASSWORD = "battery staple"
DAY = 86400.0


def db_of(app):
    return dbm.connect(app.config["DATABASE"])


def signed_in(tab: Client) -> bool:
    return tab.get("/settings").status_code == 200


def copy_of(tab: Client, app) -> Client:
    """Another tab holding a copy of `tab`'s session cookie, as a thief would."""
    thief = Client(app)
    thief.client.set_cookie("session", tab.client.get_cookie("session").value)
    return thief


def log_in(app, username: str, password: str = PASSWORD, **kw) -> Client:
    """A new tab signed in through the log-in form (`kw`: for its requests, such as headers)."""
    tab = Client(app)
    response = tab.fill("/login", {"username": username, "password": password}, **kw)
    assert response.status_code == 302, response.data
    return tab


def issue_token(app, username: str, password: str = PASSWORD) -> str:
    """What `spaces login` does: no cookie, so no CSRF token either (auth.api_token)."""
    response = app.test_client().post(
        "/api/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.data
    return response.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "HX-Request": "true"}


def token_works(app, token: str, space_id: int) -> bool:
    """What `spaces listen` does first: read the room page with the token (no cookie)."""
    response = app.test_client().get(f"/spaces/{space_id}", headers=bearer(token))
    return response.status_code == 200


def signed_up(app, username: str) -> Client:
    tab = Client(app)
    response = tab.fill("/signup", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data
    tab.get(response.location)  # where a browser lands: the new session's token
    return tab


def change_password(tab: Client, current: str, new: str, again: str | None = None):
    """The Change password form in Settings, sent without JavaScript."""
    return tab.post(
        "/settings/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
        },
        htmx=False,
    )


@pytest.fixture
def space_id(app, browser):
    db = db_of(app)
    host = browser("host")
    return rooms.create(db, host.user, "Tokens", "", "everyone")["id"]


# Logout ------------------------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_no_longer_opens_settings(browser, app):
    alice = browser("alice")
    phone = log_in(app, "alice")
    thief = copy_of(alice, app)
    assert signed_in(thief)  # the copy works while the session lasts
    alice.post("/logout", htmx=False)
    response = thief.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert "Log out" not in parse(thief.get("/").data).buttons()
    assert not signed_in(alice)
    assert signed_in(phone)  # logout ends that session, not the person's others


def test_a_session_left_unused_for_its_lifetime_ends_on_the_server(browser, app, clock):
    alice = browser("alice")
    clock.advance(29 * DAY)
    assert signed_in(alice)
    clock.advance(app.permanent_session_lifetime.total_seconds())
    assert not signed_in(alice)


def test_the_cookie_holds_a_session_id_not_the_account(browser, app):
    alice = browser("alice")
    with alice.client.session_transaction() as session:
        assert "user_id" not in session
        assert set(session) <= {"sid", "csrf_token", "_permanent"}
        # Setting the account by hand (with the signing key) no longer signs anyone in.
        session.clear()
        session["user_id"] = alice.user["id"]
    assert not signed_in(alice)


# Change password ---------------------------------------------------------------------------------


def test_settings_offers_change_password(browser):
    doc = parse(browser("alice").get("/settings").data)
    labels = [label.text for label in doc.find_all("label")]
    assert {"Current password", "New password", "New password again"} <= set(labels)
    for name in ("current_password", "new_password", "new_password_again"):
        assert doc.find("input", name=name).get("type") == "password"
    assert "Change password" in doc.buttons()


def test_change_password_ends_other_sessions_and_tokens_and_keeps_this_one(browser, app, space_id):
    alice = browser("alice")
    laptop = log_in(app, "alice")
    thief = copy_of(laptop, app)
    token = issue_token(app, "alice")
    assert token_works(app, token, space_id)

    response = change_password(alice, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 200
    assert "Password changed" in parse(response.data).find(role="status").text
    assert signed_in(alice)
    assert not signed_in(laptop) and not signed_in(thief)
    assert not token_works(app, token, space_id)
    old = Client(app).fill("/login", {"username": "alice", "password": PASSWORD})
    assert old.status_code == 401
    assert signed_in(log_in(app, "alice", NEW_PASSWORD))


def test_a_boosted_change_keeps_settings_in_the_address_bar(browser):
    alice = browser("alice")
    response = alice.post(
        "/settings/password",
        data={"current_password": "wrong", "new_password": "x", "new_password_again": "x"},
    )
    assert response.headers["HX-Replace-Url"] == "/settings"


@pytest.mark.parametrize(
    ("current", "new", "again", "status", "field", "message"),
    [
        ("not my password", NEW_PASSWORD, None, 403, "current_password", "not your current"),
        (PASSWORD, "short", None, 400, "new_password", "at least 8 characters"),
        (PASSWORD, "x" * 257, None, 400, "new_password", "at most 256 characters"),
        (PASSWORD, NEW_PASSWORD, "battery stapler", 400, "new_password_again", "not the same"),
    ],
)
def test_a_refused_change_says_why_and_signs_nobody_out(
    browser, app, space_id, current, new, again, status, field, message
):
    alice = browser("alice")
    laptop = log_in(app, "alice")
    token = issue_token(app, "alice")
    response = change_password(alice, current, new, again)
    assert response.status_code == status
    assert message in field_error(response.data, field)
    assert current not in response.data.decode() and new not in response.data.decode()
    assert signed_in(alice) and signed_in(laptop)
    assert token_works(app, token, space_id)
    assert signed_in(log_in(app, "alice", PASSWORD))


def test_wrong_current_passwords_are_rate_limited_per_account(limited_app):
    alice, bob = signed_up(limited_app, "alice"), signed_up(limited_app, "bob")
    for _ in range(5):
        assert change_password(alice, "wrong guess", NEW_PASSWORD).status_code == 403
    response = change_password(alice, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 429
    assert "Too many attempts" in parse(response.data).text
    assert signed_in(log_in(limited_app, "alice", PASSWORD))  # unchanged
    # Another account, from the same address, is not held back; right answers never count.
    assert change_password(bob, PASSWORD, NEW_PASSWORD).status_code == 200
    assert change_password(bob, NEW_PASSWORD, PASSWORD).status_code == 200


# Tokens in Settings ------------------------------------------------------------------------------


def token_items(tab: Client) -> list[str]:
    return parse(tab.get("/settings").data).list_items("tokens-heading")


def revoke_paths(html: bytes) -> list[str]:
    return re.findall(r'action="(/settings/tokens/\d+/revoke)"', html.decode())


def test_tokens_are_listed_with_dates_and_a_revoke_button_each(browser, app, space_id, clock):
    alice = browser("alice")
    assert token_items(alice) == []
    first = issue_token(app, "alice")
    clock.advance(DAY)
    issue_token(app, "alice")
    token_works(app, first, space_id)

    items = token_items(alice)
    assert len(items) == 2
    created = "2027-01-15 08:00 UTC"  # the clock fixture's time, a day before the second
    assert items[1] == (
        f"Token created {created} last used 2027-01-16 08:00 UTC"
        " · expires 2027-02-14 08:00 UTC Revoke"
    )
    assert "last used never · expires 2027-02-15 08:00 UTC" in items[0]
    tokens_section = parse(alice.get("/settings").data).by_id("api-tokens")
    assert tokens_section.buttons() == ["Revoke", "Revoke"]
    # Nobody else sees them.
    assert token_items(browser("bob")) == []


def test_revoke_ends_that_token_at_once_and_answers_with_the_list(browser, app, space_id):
    alice = browser("alice")
    first = issue_token(app, "alice")
    second = issue_token(app, "alice")
    newest, oldest = revoke_paths(alice.get("/settings").data)

    response = alice.post(oldest)  # htmx: the list replaces itself
    assert response.status_code == 200
    fragment = parse(response.data)
    assert fragment.find("section").get("id") == "api-tokens"
    assert fragment.buttons() == ["Revoke"]
    assert not token_works(app, first, space_id)
    assert token_works(app, second, space_id)

    response = alice.post(newest, htmx=False)  # without JavaScript: back to Settings
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    assert not token_works(app, second, space_id)
    assert token_items(alice) == []


def test_nobody_can_revoke_someone_elses_token(browser, app, space_id):
    alice, bob = browser("alice"), browser("bob")
    token = issue_token(app, "alice")
    [path] = revoke_paths(alice.get("/settings").data)
    bob.post(path)
    bob.post(path, htmx=False)
    assert token_works(app, token, space_id)


def test_settings_shows_where_you_are_signed_in(app, browser):
    alice = browser("alice")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"
    log_in(app, "alice", headers={"User-Agent": firefox})
    items = parse(alice.get("/settings").data).list_items("sessions-heading")
    assert len(items) == 2
    assert "(this browser)" in items[0]
    assert items[1].startswith("Firefox on Linux signed in")
    change_password(alice, PASSWORD, NEW_PASSWORD)
    assert len(parse(alice.get("/settings").data).list_items("sessions-heading")) == 1


# What a token reaches ----------------------------------------------------------------------------


@pytest.fixture
def admin_token(app, space_id, browser):
    """An admin's token: even it must not open admin pages or settings."""
    root = browser("root")
    dbm.connect(app.config["DATABASE"]).execute(
        "UPDATE users SET is_admin = 1 WHERE id = ?", (root.user["id"],)
    )
    assert root.get("/admin/reports").status_code == 200  # with a session, it would
    return issue_token(app, "root")


@pytest.mark.parametrize("htmx", [True, False])
def test_a_token_cannot_open_settings_or_admin_pages(app, admin_token, htmx):
    headers = bearer(admin_token) if htmx else {"Authorization": f"Bearer {admin_token}"}
    client = app.test_client()
    settings = client.get("/settings", headers=headers)
    if htmx:
        assert (settings.status_code, settings.headers["HX-Redirect"]) == (401, "/login")
    else:
        assert settings.status_code == 302
        assert settings.headers["Location"].startswith("/login")
    assert client.get("/admin/reports", headers=headers).status_code == 404
    assert client.get("/admin/audit", headers=headers).status_code == 404


def test_a_token_cannot_post_send_messages_or_change_the_account(app, admin_token, browser):
    """Even with a valid CSRF token beside it (a visitor's tab that loaded a page), the token
    signs nobody in off the allow-list: the answer is a signed-out person's, 401."""
    browser("bob")
    visitor, headers = Client(app), bearer(admin_token)
    visitor.get("/login")
    db = db_of(app)
    before = dbm.all_rows(db, "SELECT id, display_name, bio, password_hash FROM users")
    forms = {
        "/posts": {"body": "from a token"},
        "/messages/bob": {"body": "from a token"},
        "/settings": {"display_name": "Token", "bio": "x"},
        "/settings/password": {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    }
    answers = [visitor.post(path, form, headers=headers) for path, form in forms.items()]
    answers.append(visitor.get("/messages", headers=headers))
    assert [a.status_code for a in answers] == [401] * len(answers)
    # Sent as `spaces` sends (no cookie, so no CSRF token), the token does not excuse the
    # missing CSRF token off the allow-list either.
    raw = [app.test_client().post(path, data=form, headers=headers) for path, form in forms.items()]
    assert [a.status_code for a in raw] == [400] * len(raw)
    assert dbm.scalar(db, "SELECT COUNT(*) FROM posts") == 0
    assert dbm.scalar(db, "SELECT COUNT(*) FROM messages") == 0
    assert dbm.all_rows(db, "SELECT id, display_name, bio, password_hash FROM users") == before
