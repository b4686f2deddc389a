"""API tokens (spaces/tokens.py) on a temporary database, with the one clock for expiry: they
expire, an account keeps a few, their owner sees when each was last used and can revoke it."""

import pytest

from spaces import db as dbm
from spaces import tokens

DAY = 86400.0
DAYS = 30


def issue(db, user) -> str:
    return tokens.issue(db, user["id"], days=DAYS)


def test_a_token_finds_its_person_and_only_its_hash_is_stored(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    a, b = issue(db, alice), issue(db, bob)
    assert a != b and len(a) >= 32
    assert tokens.user_id_for(db, a) == alice["id"]
    assert tokens.user_id_for(db, b) == bob["id"]
    rows = dbm.all_rows(db, "SELECT * FROM api_tokens ORDER BY id")
    assert [(r["user_id"], r["created_at"], r["expires_at"]) for r in rows] == [
        (alice["id"], clock.now(), clock.now() + DAYS * DAY),
        (bob["id"], clock.now(), clock.now() + DAYS * DAY),
    ]
    stored = {str(value) for row in rows for value in row.values()}
    assert a not in stored and b not in stored


@pytest.mark.parametrize("token", ["", None, "not-a-token", "x" * 101])
def test_unknown_tokens_find_nobody(db, make_user, token):
    issue(db, make_user("alice"))
    assert tokens.user_id_for(db, token) is None


def test_a_token_altered_by_one_character_finds_nobody(db, make_user):
    token = issue(db, make_user("alice"))
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert tokens.user_id_for(db, altered) is None


def test_a_token_expires_after_its_days(db, make_user, clock):
    alice = make_user("alice")
    token = issue(db, alice)
    clock.advance(DAYS * DAY - 1)
    assert tokens.user_id_for(db, token) == alice["id"]  # use does not extend it
    clock.advance(1)
    assert tokens.user_id_for(db, token) is None
    assert tokens.for_user(db, alice["id"]) == []


def test_the_lifetime_is_the_callers_setting(db, make_user, clock):
    alice = make_user("alice")
    token = tokens.issue(db, alice["id"], days=1)
    clock.advance(DAY)
    assert tokens.user_id_for(db, token) is None


def test_one_more_than_the_limit_retires_the_oldest(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    bobs = issue(db, bob)
    issued = []
    for _ in range(tokens.PER_ACCOUNT):
        issued.append(issue(db, alice))
        clock.advance(1)
    assert all(tokens.user_id_for(db, t) == alice["id"] for t in issued)
    newest = issue(db, alice)
    assert tokens.user_id_for(db, issued[0]) is None
    assert all(tokens.user_id_for(db, t) == alice["id"] for t in [*issued[1:], newest])
    assert len(tokens.for_user(db, alice["id"])) == tokens.PER_ACCOUNT
    assert tokens.user_id_for(db, bobs) == bob["id"]  # another account's tokens are its own


def test_last_used_is_kept_within_a_minute(db, make_user, clock):
    alice = make_user("alice")
    token = issue(db, alice)
    [row] = tokens.for_user(db, alice["id"])
    assert row["last_used_at"] is None
    tokens.user_id_for(db, token)
    first_use = clock.now()
    clock.advance(tokens.TOUCH_EVERY - 1)
    tokens.user_id_for(db, token)
    assert tokens.for_user(db, alice["id"])[0]["last_used_at"] == first_use
    clock.advance(1)
    tokens.user_id_for(db, token)
    assert tokens.for_user(db, alice["id"])[0]["last_used_at"] == clock.now()


def test_the_list_holds_only_the_persons_working_tokens_newest_first(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    issue(db, alice)
    clock.advance(DAY)
    issue(db, bob)
    issue(db, alice)
    listed = tokens.for_user(db, alice["id"])
    assert [t["created_at"] for t in listed] == [clock.now(), clock.now() - DAY]
    assert set(listed[0]) == {"id", "created_at", "last_used_at", "expires_at"}
    clock.advance((DAYS - 1) * DAY)  # the first has expired, the second has a day left
    assert [t["created_at"] for t in tokens.for_user(db, alice["id"])] == [clock.now() - 29 * DAY]


def test_revoking_ends_one_token_of_ones_own_and_no_other(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first, second = issue(db, alice), issue(db, alice)
    ids = [t["id"] for t in tokens.for_user(db, alice["id"])]  # second, first
    assert tokens.revoke(db, bob["id"], ids[1]) is False  # not bob's to revoke
    assert tokens.user_id_for(db, first) == alice["id"]
    assert tokens.revoke(db, alice["id"], ids[1]) is True
    assert tokens.user_id_for(db, first) is None
    assert tokens.user_id_for(db, second) == alice["id"]
    assert tokens.revoke(db, alice["id"], ids[1]) is False  # already gone


def test_revoke_all_ends_every_token_of_the_account_only(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alices = [issue(db, alice) for _ in range(3)]
    bobs = issue(db, bob)
    assert tokens.revoke_all(db, alice["id"]) == 3
    assert all(tokens.user_id_for(db, t) is None for t in alices)
    assert tokens.user_id_for(db, bobs) == bob["id"]
