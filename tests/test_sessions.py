"""Sign-in sessions (spaces/sessions.py) on a temporary database, with the one clock for expiry:
a session works until it is ended or left unused for its lifetime, and only its hash is kept."""

import pytest

from spaces import db as dbm
from spaces import migrations, sessions

DAY = 86400.0
MAX_AGE = 30 * DAY
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def start(db, user, agent=FIREFOX) -> str:
    return sessions.start(db, user["id"], agent, max_age=MAX_AGE)


def who(db, session_id) -> int | None:
    return sessions.user_id_for(db, session_id, max_age=MAX_AGE)


def test_a_session_finds_its_person_and_only_its_hash_is_stored(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    a, b = start(db, alice), start(db, bob)
    assert a != b and len(a) >= 32
    assert who(db, a) == alice["id"]
    assert who(db, b) == bob["id"]
    rows = dbm.all_rows(db, "SELECT * FROM sessions ORDER BY created_at, user_id")
    assert [(r["user_id"], r["created_at"], r["last_seen_at"]) for r in rows] == [
        (alice["id"], clock.now(), clock.now()),
        (bob["id"], clock.now(), clock.now()),
    ]
    stored = {str(value) for row in rows for value in row.values()}
    assert a not in stored and b not in stored
    assert rows[0]["user_agent"] == "Firefox on Linux"


@pytest.mark.parametrize("session_id", [None, "", "not-a-session", "x" * 101, 12, ["a"]])
def test_unknown_or_malformed_ids_find_nobody(db, make_user, session_id):
    start(db, make_user("alice"))
    assert who(db, session_id) is None


def test_ending_a_session_stops_it_and_no_other(db, make_user):
    alice = make_user("alice")
    laptop, phone = start(db, alice), start(db, alice)
    sessions.end(db, laptop)
    assert who(db, laptop) is None
    assert who(db, phone) == alice["id"]
    sessions.end(db, laptop)  # twice, or with no session at all, is harmless
    sessions.end(db, None)
    assert who(db, phone) == alice["id"]


def test_an_unused_session_runs_out_and_a_used_one_lives_on(db, make_user, clock):
    alice = make_user("alice")
    idle, busy = start(db, alice), start(db, alice)
    for _ in range(3):  # 60 days, with busy used every 20
        clock.advance(20 * DAY)
        assert who(db, busy) == alice["id"]
    assert who(db, idle) is None
    clock.advance(MAX_AGE - 1)
    assert who(db, busy) == alice["id"]
    clock.advance(MAX_AGE)
    assert who(db, busy) is None


def test_last_seen_is_written_at_most_every_few_minutes(db, make_user, clock):
    alice = make_user("alice")
    session_id = start(db, alice)
    started = clock.now()

    def last_seen() -> float:
        return dbm.scalar(db, "SELECT last_seen_at FROM sessions")

    clock.advance(sessions.TOUCH_EVERY - 1)
    who(db, session_id)
    assert last_seen() == started
    clock.advance(1)
    who(db, session_id)
    assert last_seen() == clock.now()


def test_end_others_keeps_only_the_one_asking(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    here, there, elsewhere = start(db, alice), start(db, alice), start(db, alice)
    bobs = start(db, bob)
    assert sessions.end_others(db, alice["id"], here) == 2
    assert who(db, here) == alice["id"]
    assert who(db, there) is None and who(db, elsewhere) is None
    assert who(db, bobs) == bob["id"]
    start(db, alice)
    assert sessions.end_others(db, alice["id"], None) == 2  # none kept: all of them


def test_the_list_shows_working_sessions_last_used_first_and_marks_this_one(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    old = start(db, alice, "curl/8.5.0")
    clock.advance(DAY)
    phone = start(db, alice, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1")
    start(db, bob)
    clock.advance(DAY)
    here = start(db, alice)
    listed = sessions.for_user(db, alice["id"], max_age=MAX_AGE, current=here)
    assert [(s["user_agent"], s["current"]) for s in listed] == [
        ("Firefox on Linux", True),
        ("Safari on iOS", False),
        ("curl", False),
    ]
    clock.advance(MAX_AGE - DAY)  # `old` and `phone` ran out; this one was used a day later
    assert [s["user_agent"] for s in sessions.for_user(db, alice["id"], max_age=MAX_AGE)] == [
        "Firefox on Linux"
    ]
    assert who(db, old) is None and who(db, phone) is None


def test_signing_in_again_clears_the_persons_sessions_that_ran_out(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    start(db, alice)
    start(db, bob)
    clock.advance(MAX_AGE + 1)
    start(db, alice)
    counts = dict(db.execute("SELECT user_id, COUNT(*) FROM sessions GROUP BY user_id").fetchall())
    assert counts == {alice["id"]: 1, bob["id"]: 1}


@pytest.mark.parametrize(
    ("agent", "summary"),
    [
        (FIREFOX, "Firefox on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
            " Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("python-requests/2.32", "python-requests"),
        ("", "Unknown browser"),
        (None, "Unknown browser"),
    ],
)
def test_the_user_agent_is_kept_as_a_short_summary(agent, summary):
    assert sessions.agent_summary(agent) == summary


def test_the_migration_retires_tokens_that_could_never_expire(tmp_path):
    """Tokens issued before expiry existed worked forever: upgrading ends them."""
    db = dbm.connect(tmp_path / "old.db")
    migrations.migrations.apply(db, stop_before="m006_sessions_and_expiring_tokens")
    db.execute("INSERT INTO users (username, password_hash, created_at) VALUES ('alice', '!', 0)")
    db.execute("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ('h', 1, 0)")
    migrations.apply(db)
    assert dbm.scalar(db, "SELECT COUNT(*) FROM api_tokens") == 0
    assert dbm.scalar(db, "SELECT COUNT(*) FROM sessions") == 0
    assert dbm.scalar(db, "SELECT COUNT(*) FROM users WHERE username = 'alice'") == 1
