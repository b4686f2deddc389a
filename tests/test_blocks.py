"""Blocks: they cut follows and requests both ways, stop following and messaging, and unblocking
restores nothing by itself."""

import pytest

from spaces import blocks, follows, messages
from spaces.errors import Forbidden, Invalid


def follow_rows(db) -> set[tuple[int, int]]:
    return {tuple(r) for r in db.execute("SELECT follower_id, followee_id FROM follows")}


def request_rows(db) -> set[tuple[int, int]]:
    return {tuple(r) for r in db.execute("SELECT requester_id, target_id FROM follow_requests")}


def test_block_is_recorded_one_way(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    assert blocks.has_blocked(db, alice["id"], bob["id"])
    assert not blocks.has_blocked(db, bob["id"], alice["id"])
    assert blocks.either_blocked(db, alice["id"], bob["id"])
    assert blocks.either_blocked(db, bob["id"], alice["id"])
    assert blocks.blocked_by(db, alice["id"]) == [bob["id"]]
    assert blocks.blocked_by(db, bob["id"]) == []


def test_blocking_twice_is_one_block(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    blocks.block(db, alice["id"], bob["id"])
    assert blocks.blocked_by(db, alice["id"]) == [bob["id"]]


def test_cannot_block_yourself(db, make_user):
    alice = make_user("alice")
    with pytest.raises(Invalid, match="yourself"):
        blocks.block(db, alice["id"], alice["id"])
    assert blocks.blocked_by(db, alice["id"]) == []


def test_block_removes_follows_both_ways(db, make_user):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    follows.follow(db, alice["id"], bob["id"])
    follows.follow(db, bob["id"], alice["id"])
    follows.follow(db, carol["id"], alice["id"])
    blocks.block(db, alice["id"], bob["id"])
    # Only the follows between the two go; carol's follow of alice stays.
    assert follow_rows(db) == {(carol["id"], alice["id"])}


def test_block_removes_pending_follow_requests_both_ways(db, make_user):
    alice = make_user("alice", protected=True)
    bob = make_user("bob", protected=True)
    carol = make_user("carol")
    follows.follow(db, bob["id"], alice["id"])
    follows.follow(db, alice["id"], bob["id"])
    follows.follow(db, carol["id"], alice["id"])
    assert len(request_rows(db)) == 3
    blocks.block(db, alice["id"], bob["id"])
    assert request_rows(db) == {(carol["id"], alice["id"])}


def test_blocked_person_cannot_follow_the_blocker_nor_the_blocker_them(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    with pytest.raises(Forbidden, match="cannot follow"):
        follows.follow(db, bob["id"], alice["id"])
    with pytest.raises(Forbidden, match="cannot follow"):
        follows.follow(db, alice["id"], bob["id"])
    assert follow_rows(db) == set()


def test_blocked_person_cannot_send_a_follow_request_to_a_protected_blocker(db, make_user):
    alice, bob = make_user("alice", protected=True), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    with pytest.raises(Forbidden):
        follows.follow(db, bob["id"], alice["id"])
    assert request_rows(db) == set()


def test_blocked_person_cannot_message_and_neither_can_the_blocker(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    messages.send(db, bob["id"], alice["id"], "hello before")
    blocks.block(db, alice["id"], bob["id"])
    with pytest.raises(Forbidden, match="cannot message"):
        messages.send(db, bob["id"], alice["id"], "hello after")
    with pytest.raises(Forbidden, match="cannot message"):
        messages.send(db, alice["id"], bob["id"], "hello back")
    bodies = [m["body"] for m in messages.thread(db, alice["id"], bob["id"])]
    assert bodies == ["hello before"]


def test_blocked_person_cannot_see_the_blockers_content(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    assert not follows.can_see_content(db, bob["id"], alice)


def test_approving_a_request_after_a_block_adds_no_follow(db, make_user):
    alice, bob = make_user("alice", protected=True), make_user("bob")
    follows.follow(db, bob["id"], alice["id"])
    # A request that survives a block (one that raced it, say) still must not become a follow.
    blocks.block(db, alice["id"], bob["id"])
    db.execute(
        "INSERT INTO follow_requests (requester_id, target_id, created_at) VALUES (?, ?, 0)",
        (bob["id"], alice["id"]),
    )
    follows.approve(db, alice["id"], bob["id"])
    assert follow_rows(db) == set()


def test_unblock_restores_nothing(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    follows.follow(db, alice["id"], bob["id"])
    follows.follow(db, bob["id"], alice["id"])
    blocks.block(db, alice["id"], bob["id"])
    blocks.unblock(db, alice["id"], bob["id"])
    assert not blocks.either_blocked(db, alice["id"], bob["id"])
    assert follow_rows(db) == set()
    # They may follow again, and message again, by their own choice.
    assert follows.follow(db, bob["id"], alice["id"]) == "following"
    messages.send(db, bob["id"], alice["id"], "hi again")


def test_unblock_by_the_blocked_person_does_nothing(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    blocks.unblock(db, bob["id"], alice["id"])
    assert blocks.has_blocked(db, alice["id"], bob["id"])
    with pytest.raises(Forbidden):
        follows.follow(db, bob["id"], alice["id"])


def test_mutual_blocks_need_both_lifted(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    blocks.block(db, bob["id"], alice["id"])
    blocks.unblock(db, alice["id"], bob["id"])
    assert blocks.either_blocked(db, alice["id"], bob["id"])
    with pytest.raises(Forbidden):
        messages.send(db, alice["id"], bob["id"], "hello")
    blocks.unblock(db, bob["id"], alice["id"])
    assert not blocks.either_blocked(db, alice["id"], bob["id"])
