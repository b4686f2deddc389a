"""Accounts: sign-up rules, argon2 passwords, log-in, settings, admins, password changes."""

import pytest
from argon2 import PasswordHasher

from spaces import accounts, sessions, tokens
from spaces import db as dbm
from spaces.errors import Conflict, Forbidden, Invalid, NotFound

GOOD_PASSWORD = "correct horse"
PRODUCTION_HASHER = accounts._hasher


def test_production_passwords_use_argon2id_with_real_cost():
    assert PRODUCTION_HASHER.type.name == "ID"
    assert PRODUCTION_HASHER.time_cost >= 2
    assert PRODUCTION_HASHER.memory_cost >= 19 * 1024  # KiB; OWASP's minimum for argon2id
    stored = PRODUCTION_HASHER.hash(GOOD_PASSWORD)
    assert stored.startswith("$argon2id$")
    assert PRODUCTION_HASHER.verify(stored, GOOD_PASSWORD)


def user_count(db) -> int:
    return dbm.scalar(db, "SELECT COUNT(*) FROM users")


def stored_row(db, user_id: int) -> dict:
    return dbm.one(db, "SELECT * FROM users WHERE id = ?", (user_id,))


# Sign-up ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["a", "Z", "_", "a" * 30, "Alice_99", "___", "0123456789"])
def test_sign_up_accepts_valid_usernames(db, username):
    user = accounts.sign_up(db, username, GOOD_PASSWORD)
    assert user["username"] == username
    assert user["display_name"] == username
    assert accounts.by_username(db, username)["id"] == user["id"]


@pytest.mark.parametrize(
    "username",
    ["", "   ", "a" * 31, "has space", "dash-name", "dot.name", "at@sign", "émile", "名前", "a/b"],
)
def test_sign_up_refuses_invalid_usernames(db, username):
    before = user_count(db)
    with pytest.raises(Invalid) as exc:
        accounts.sign_up(db, username, GOOD_PASSWORD)
    assert exc.value.field == "username"
    assert "1-30 letters, digits or underscores" in exc.value.message
    assert user_count(db) == before


def test_sign_up_strips_surrounding_spaces_from_username(db):
    assert accounts.sign_up(db, "  alice  ", GOOD_PASSWORD)["username"] == "alice"


@pytest.mark.parametrize("second", ["alice", "ALICE", "Alice", "aLiCe"])
def test_usernames_are_unique_case_insensitively(db, second):
    accounts.sign_up(db, "alice", GOOD_PASSWORD)
    before = user_count(db)
    with pytest.raises(Conflict) as exc:
        accounts.sign_up(db, second, "another password")
    assert exc.value.field == "username"
    assert "taken" in exc.value.message
    assert user_count(db) == before


@pytest.mark.parametrize("password", ["", "short", "1234567", " " * 7])
def test_passwords_need_eight_characters(db, password):
    before = user_count(db)
    with pytest.raises(Invalid) as exc:
        accounts.sign_up(db, "alice", password)
    assert exc.value.field == "password"
    assert "at least 8" in exc.value.message
    assert user_count(db) == before


def test_sign_up_problems_are_every_problem_at_once(db):
    assert accounts.sign_up_problems(db, "bad name!", "short") == {
        "username": "Usernames are 1-30 letters, digits or underscores.",
        "password": "Passwords need at least 8 characters.",
    }
    accounts.sign_up(db, "alice", "correct horse")
    assert accounts.sign_up_problems(db, " ALICE ", "") == {
        "username": "That username is taken.",
        "password": "Passwords need at least 8 characters.",
    }
    assert accounts.sign_up_problems(db, "bob", "correct horse") == {}


def test_password_of_exactly_eight_characters_is_enough(db):
    user = accounts.sign_up(db, "alice", "12345678")
    assert accounts.authenticate(db, "alice", "12345678")["id"] == user["id"]


def test_overlong_password_is_refused_with_its_field(db):
    with pytest.raises(Invalid) as exc:
        accounts.sign_up(db, "alice", "x" * (accounts.PASSWORD_MAX + 1))
    assert exc.value.field == "password"


def test_password_is_stored_as_an_argon2_hash_not_as_typed(db):
    user = accounts.sign_up(db, "alice", GOOD_PASSWORD)
    row = stored_row(db, user["id"])
    assert row["password_hash"].startswith("$argon2")
    assert GOOD_PASSWORD not in row["password_hash"]
    assert PasswordHasher().verify(row["password_hash"], GOOD_PASSWORD)
    # Nothing in the row holds the password itself.
    assert GOOD_PASSWORD not in {str(v) for v in row.values()}


def test_same_password_gives_different_hashes(db):
    a = accounts.sign_up(db, "alice", GOOD_PASSWORD)
    b = accounts.sign_up(db, "bob", GOOD_PASSWORD)
    assert stored_row(db, a["id"])["password_hash"] != stored_row(db, b["id"])["password_hash"]


def test_public_account_data_never_carries_the_hash(db):
    user = accounts.sign_up(db, "alice", GOOD_PASSWORD)
    assert "password_hash" not in user
    assert "password_hash" not in accounts.get(db, user["id"])
    assert "password_hash" not in accounts.by_username(db, "alice")
    assert "password_hash" not in accounts.authenticate(db, "alice", GOOD_PASSWORD)


def test_sign_up_records_creation_time_from_the_clock(db, clock):
    user = accounts.sign_up(db, "alice", GOOD_PASSWORD)
    assert user["created_at"] == clock.now()
    assert user["is_admin"] == 0
    assert user["protected"] == 0


# Log-in -----------------------------------------------------------------------------------------


def test_authenticate_with_right_password(db):
    user = accounts.sign_up(db, "alice", GOOD_PASSWORD)
    assert accounts.authenticate(db, "alice", GOOD_PASSWORD)["id"] == user["id"]


def test_authenticate_username_is_case_insensitive(db):
    user = accounts.sign_up(db, "Alice", GOOD_PASSWORD)
    assert accounts.authenticate(db, "aLICE", GOOD_PASSWORD)["id"] == user["id"]


@pytest.mark.parametrize("password", ["wrong horse", "", "Correct horse", GOOD_PASSWORD + " "])
def test_authenticate_with_wrong_password(db, password):
    accounts.sign_up(db, "alice", GOOD_PASSWORD)
    assert accounts.authenticate(db, "alice", password) is None


@pytest.mark.parametrize("username", ["nobody", "", None, "x" * 500])
def test_authenticate_unknown_user(db, username):
    accounts.sign_up(db, "alice", GOOD_PASSWORD)
    assert accounts.authenticate(db, username, GOOD_PASSWORD) is None


def test_the_system_account_cannot_log_in(db):
    """The account that sends moderation notices has no password anyone can type."""
    system = dbm.one(db, "SELECT username FROM users WHERE is_system = 1")
    assert system is not None
    for password in ("", "!", GOOD_PASSWORD, "not a real password"):
        assert accounts.authenticate(db, system["username"], password) is None


def test_system_account_name_cannot_be_signed_up(db):
    system = dbm.one(db, "SELECT username FROM users WHERE is_system = 1")
    with pytest.raises(Conflict):
        accounts.sign_up(db, system["username"].upper(), GOOD_PASSWORD)


def test_by_username_unknown_is_not_found(db):
    with pytest.raises(NotFound):
        accounts.by_username(db, "ghost")


# Settings ---------------------------------------------------------------------------------------


def settings(**changes) -> dict:
    fields = {"display_name": "Alice", "bio": "", "protected": False, "caption_consent": False}
    fields.update(changes)
    return fields


def test_update_settings_saves_every_field(db, make_user):
    user = make_user("alice")
    updated = accounts.update_settings(
        db,
        user["id"],
        **settings(
            display_name="  Alice A.  ", bio=" Hi there ", protected=True, caption_consent=True
        ),
    )
    assert updated["display_name"] == "Alice A."
    assert updated["bio"] == "Hi there"
    assert updated["protected"] == 1
    assert updated["caption_consent"] == 1
    assert accounts.get(db, user["id"]) == updated


def test_display_name_and_bio_at_their_limits_are_accepted(db, make_user):
    user = make_user("alice")
    updated = accounts.update_settings(
        db,
        user["id"],
        **settings(display_name="d" * accounts.DISPLAY_NAME_MAX, bio="b" * accounts.BIO_MAX),
    )
    assert len(updated["display_name"]) == 50
    assert len(updated["bio"]) == 160


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"display_name": ""}, "display_name", "Enter a display name"),
        ({"display_name": "    "}, "display_name", "Enter a display name"),
        ({"display_name": "d" * 51}, "display_name", "at most 50"),
        ({"bio": "b" * 161}, "bio", "at most 160"),
    ],
)
def test_settings_out_of_bounds_name_the_field_and_change_nothing(
    db, make_user, changes, field, words
):
    user = make_user("alice")
    with pytest.raises(Invalid) as exc:
        accounts.update_settings(db, user["id"], **settings(protected=True, **changes))
    assert exc.value.field == field
    assert words in exc.value.message
    unchanged = accounts.get(db, user["id"])
    assert unchanged["display_name"] == "alice"
    assert unchanged["protected"] == 0


@pytest.mark.parametrize("answer", [None, True, False])
def test_settings_leave_an_unanswered_captions_question_unanswered(db, make_user, answer):
    user = make_user("alice")
    accounts.update_settings(db, user["id"], **settings(display_name="Al", caption_consent=None))
    assert accounts.get(db, user["id"])["caption_consent"] is None  # still "never asked"
    if answer is not None:
        accounts.set_caption_consent(db, user["id"], answer)
    accounts.update_settings(db, user["id"], **settings(caption_consent=None))
    assert accounts.get(db, user["id"])["caption_consent"] == answer  # None keeps what is there


def test_caption_consent_starts_unasked_and_can_be_set(db, make_user):
    user = make_user("alice")
    assert user["caption_consent"] is None
    accounts.set_caption_consent(db, user["id"], True)
    assert accounts.get(db, user["id"])["caption_consent"] == 1
    accounts.set_caption_consent(db, user["id"], False)
    assert accounts.get(db, user["id"])["caption_consent"] == 0


def test_view_captions_toggle(db, make_user):
    user = make_user("alice")
    accounts.set_view_captions(db, user["id"], True)
    assert accounts.get(db, user["id"])["view_captions"] == 1


# Admins -----------------------------------------------------------------------------------------


def test_make_admin_marks_only_that_account(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    result = accounts.make_admin(db, "ALICE")
    assert result["id"] == alice["id"]
    assert result["is_admin"] == 1
    assert accounts.get(db, alice["id"])["is_admin"] == 1
    assert accounts.get(db, bob["id"])["is_admin"] == 0


def test_make_admin_of_unknown_user_is_not_found(db):
    with pytest.raises(NotFound):
        accounts.make_admin(db, "ghost")


# Changing the password ------------------------------------------------------------------------

NEW_PASSWORD = "battery staple"
MAX_AGE = 30 * 86400


def _signed_in_everywhere(db, user) -> tuple[list[str], list[str]]:
    """Two browser sessions and two terminal tokens for `user`."""
    browsers = [sessions.start(db, user["id"], max_age=MAX_AGE) for _ in range(2)]
    terminals = [tokens.issue(db, user["id"], days=30) for _ in range(2)]
    return browsers, terminals


def test_changing_the_password_ends_every_other_session_and_every_token(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    (here, elsewhere), terminals = _signed_in_everywhere(db, alice)
    bobs_browsers, bobs_terminals = _signed_in_everywhere(db, bob)

    accounts.change_password(db, alice["id"], GOOD_PASSWORD, NEW_PASSWORD, keep_session=here)

    assert accounts.authenticate(db, "alice", NEW_PASSWORD)["id"] == alice["id"]
    assert accounts.authenticate(db, "alice", GOOD_PASSWORD) is None
    assert sessions.user_id_for(db, here, max_age=MAX_AGE) == alice["id"]
    assert sessions.user_id_for(db, elsewhere, max_age=MAX_AGE) is None
    assert [tokens.user_id_for(db, t) for t in terminals] == [None, None]
    # Nobody else is signed out.
    assert [sessions.user_id_for(db, s, max_age=MAX_AGE) for s in bobs_browsers] == [bob["id"]] * 2
    assert [tokens.user_id_for(db, t) for t in bobs_terminals] == [bob["id"]] * 2


@pytest.mark.parametrize(
    ("current", "new", "error", "field", "message"),
    [
        ("wrong guess", NEW_PASSWORD, Forbidden, "current_password", "not your current password"),
        ("", NEW_PASSWORD, Forbidden, "current_password", "not your current password"),
        (GOOD_PASSWORD, "short", Invalid, "new_password", "at least 8 characters"),
        (GOOD_PASSWORD, "x" * 257, Invalid, "new_password", "at most 256 characters"),
    ],
)
def test_a_refused_change_changes_nothing(db, make_user, current, new, error, field, message):
    alice = make_user("alice")
    (here, elsewhere), terminals = _signed_in_everywhere(db, alice)
    with pytest.raises(error) as info:
        accounts.change_password(db, alice["id"], current, new, keep_session=here)
    assert info.value.field == field and message in info.value.message
    assert accounts.authenticate(db, "alice", GOOD_PASSWORD)["id"] == alice["id"]
    assert sessions.user_id_for(db, elsewhere, max_age=MAX_AGE) == alice["id"]
    assert [tokens.user_id_for(db, t) for t in terminals] == [alice["id"]] * 2
