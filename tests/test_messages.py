"""Direct messages: sending, bounds, links, conversations, unread counts and read marking."""

import pytest

from spaces import db as dbm
from spaces import messages
from spaces.errors import Invalid, NotFound


def message_count(db) -> int:
    return dbm.scalar(db, "SELECT COUNT(*) FROM messages")


# Sending ----------------------------------------------------------------------------------------


def test_send_stores_the_message(db, make_user, clock):
    alice, bob = make_user("alice"), make_user("bob")
    message = messages.send(db, alice["id"], bob["id"], "  Hello Bob  ")
    assert message["body"] == "Hello Bob"
    assert message["sender_id"] == alice["id"]
    assert message["link"] is None
    assert message["created_at"] == clock.now()
    assert message["read_at"] is None
    assert message_count(db) == 1


def test_both_directions_share_one_conversation(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first = messages.send(db, alice["id"], bob["id"], "hi")
    second = messages.send(db, bob["id"], alice["id"], "hello")
    assert first["conversation_id"] == second["conversation_id"]
    assert dbm.scalar(db, "SELECT COUNT(*) FROM conversations") == 1


@pytest.mark.parametrize("body", ["", "   ", "\n\t", None])
def test_empty_message_is_refused(db, make_user, body):
    alice, bob = make_user("alice"), make_user("bob")
    with pytest.raises(Invalid) as exc:
        messages.send(db, alice["id"], bob["id"], body)
    assert exc.value.field == "body"
    assert exc.value.message == "Write a message."
    assert message_count(db) == 0


def test_message_length_limit(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    messages.send(db, alice["id"], bob["id"], "m" * messages.BODY_MAX)
    with pytest.raises(Invalid) as exc:
        messages.send(db, alice["id"], bob["id"], "m" * (messages.BODY_MAX + 1))
    assert exc.value.field == "body"
    assert "at most 1000" in exc.value.message
    assert message_count(db) == 1


def test_cannot_message_yourself(db, make_user):
    alice = make_user("alice")
    with pytest.raises(Invalid, match="yourself"):
        messages.send(db, alice["id"], alice["id"], "note to self")
    assert message_count(db) == 0


def test_cannot_message_unknown_account(db, make_user):
    alice = make_user("alice")
    with pytest.raises(NotFound):
        messages.send(db, alice["id"], 4242, "anyone there?")
    assert message_count(db) == 0


def test_html_is_stored_as_typed(db, make_user):
    """Escaping is the templates' job; the domain must not mangle or drop text."""
    alice, bob = make_user("alice"), make_user("bob")
    body = "<script>alert(1)</script>"
    assert messages.send(db, alice["id"], bob["id"], body)["body"] == body


# Links ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    ["/spaces/1", "/u/alice", "https://example.com/x?y=1", "http://example.com", "/spaces/1#top"],
)
def test_allowed_links(db, make_user, link):
    alice, bob = make_user("alice"), make_user("bob")
    message = messages.send(db, alice["id"], bob["id"], "Join me", link)
    assert message["link"] == link


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://example.com/file",
        "//evil.example/path",
        "/\\evil.example/path",
        "/\t/evil.example/path",
        "/\t\\evil.example/path",
        "/\n/evil.example/path",
        "spaces/1",
        "mailto:a@example.com",
    ],
)
def test_refused_links(db, make_user, link):
    alice, bob = make_user("alice"), make_user("bob")
    with pytest.raises(Invalid) as exc:
        messages.send(db, alice["id"], bob["id"], "Click", link)
    assert exc.value.field == "link"
    assert "http://, https:// or /" in exc.value.message
    assert message_count(db) == 0


def test_overlong_link_is_refused(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    with pytest.raises(Invalid) as exc:
        messages.send(db, alice["id"], bob["id"], "Click", "/" + "a" * messages.LINK_MAX)
    assert exc.value.field == "link"
    assert "at most 500" in exc.value.message


def test_blank_link_is_no_link(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    assert messages.send(db, alice["id"], bob["id"], "hi", "   ")["link"] is None


# Conversations, unread and read -----------------------------------------------------------------


def test_conversations_list_the_other_person_newest_first(db, make_user, clock):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    messages.send(db, bob["id"], alice["id"], "from bob")
    clock.advance(10)
    messages.send(db, carol["id"], alice["id"], "from carol 1")
    clock.advance(10)
    messages.send(db, carol["id"], alice["id"], "from carol 2")
    inbox = messages.conversations(db, alice["id"])
    assert [c["other_username"] for c in inbox] == ["carol", "bob"]
    assert [c["unread"] for c in inbox] == [2, 1]
    assert inbox[0]["last_body"] == "from carol 2"
    # A new message moves a conversation to the top.
    clock.advance(10)
    messages.send(db, alice["id"], bob["id"], "reply to bob")
    assert [c["other_username"] for c in messages.conversations(db, alice["id"])] == [
        "bob",
        "carol",
    ]
    # Carol's inbox holds only her conversation with alice.
    assert [c["other_username"] for c in messages.conversations(db, carol["id"])] == ["alice"]


def test_unread_count_counts_only_messages_from_others(db, make_user):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    messages.send(db, bob["id"], alice["id"], "one")
    messages.send(db, bob["id"], alice["id"], "two")
    messages.send(db, carol["id"], alice["id"], "three")
    messages.send(db, alice["id"], bob["id"], "mine")
    assert messages.unread_count(db, alice["id"]) == 3
    assert messages.unread_count(db, bob["id"]) == 1
    assert messages.unread_count(db, carol["id"]) == 0


def test_reading_a_thread_marks_only_the_readers_incoming_messages(db, make_user, clock):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    messages.send(db, bob["id"], alice["id"], "one")
    messages.send(db, alice["id"], bob["id"], "two")
    messages.send(db, bob["id"], alice["id"], "three")
    messages.send(db, carol["id"], alice["id"], "from carol")
    clock.advance(5)
    thread = messages.thread(db, alice["id"], bob["id"])
    assert [m["body"] for m in thread] == ["one", "two", "three"]
    assert [m["sender_username"] for m in thread] == ["bob", "alice", "bob"]
    assert messages.unread_count(db, alice["id"]) == 1  # carol's is still unread
    assert messages.unread_count(db, bob["id"]) == 1  # bob has not read alice's "two"
    read_at = dbm.all_rows(db, "SELECT body, read_at FROM messages ORDER BY id")
    assert read_at == [
        {"body": "one", "read_at": clock.now()},
        {"body": "two", "read_at": None},
        {"body": "three", "read_at": clock.now()},
        {"body": "from carol", "read_at": None},
    ]


def test_thread_after_id_returns_only_newer_messages(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first = messages.send(db, bob["id"], alice["id"], "one")
    messages.send(db, bob["id"], alice["id"], "two")
    assert [m["body"] for m in messages.thread(db, alice["id"], bob["id"], first["id"])] == ["two"]


def test_thread_limit_keeps_the_latest_oldest_first(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    for n in range(5):
        messages.send(db, bob["id"], alice["id"], f"m{n}")
    assert [m["body"] for m in messages.thread(db, alice["id"], bob["id"], limit=2)] == [
        "m3",
        "m4",
    ]


def test_thread_with_someone_never_messaged_is_empty(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    assert messages.thread(db, alice["id"], bob["id"]) == []
    assert messages.conversations(db, alice["id"]) == []


def test_get_message_only_for_its_two_people(db, make_user):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    message = messages.send(db, alice["id"], bob["id"], "private")
    assert messages.get_message(db, message["id"], alice["id"])["body"] == "private"
    assert messages.get_message(db, message["id"], bob["id"])["body"] == "private"
    with pytest.raises(NotFound):
        messages.get_message(db, message["id"], carol["id"])
    with pytest.raises(NotFound):
        messages.get_message(db, 999, alice["id"])
