"""Follows, follow requests for protected accounts, and who may see an account's content."""

import pytest

from spaces import accounts, blocks, follows
from spaces import db as dbm
from spaces.errors import Forbidden, Invalid, NotFound


def follow_rows(db) -> set[tuple[int, int]]:
    return {tuple(r) for r in db.execute("SELECT follower_id, followee_id FROM follows")}


def request_rows(db) -> set[tuple[int, int]]:
    return {tuple(r) for r in db.execute("SELECT requester_id, target_id FROM follow_requests")}


def make_protected(db, user: dict, protected: bool = True) -> dict:
    """The account protected (or, with False, public again) in Settings."""
    return accounts.update_settings(
        db,
        user["id"],
        display_name=user["display_name"],
        bio="",
        protected=protected,
        caption_consent=False,
    )


# Following a public account ---------------------------------------------------------------------


def test_follow_public_account(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    assert follows.follow(db, alice["id"], bob["id"]) == "following"
    assert follows.is_following(db, alice["id"], bob["id"])
    assert not follows.is_following(db, bob["id"], alice["id"])
    assert follow_rows(db) == {(alice["id"], bob["id"])}
    assert follows.counts(db, bob["id"]) == {"followers": 1, "following": 0}
    assert follows.counts(db, alice["id"]) == {"followers": 0, "following": 1}


def test_follow_twice_is_one_follow(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    follows.follow(db, alice["id"], bob["id"])
    assert follows.follow(db, alice["id"], bob["id"]) == "following"
    assert follows.counts(db, bob["id"])["followers"] == 1


def test_unfollow(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    follows.follow(db, alice["id"], bob["id"])
    follows.unfollow(db, alice["id"], bob["id"])
    assert not follows.is_following(db, alice["id"], bob["id"])
    assert follow_rows(db) == set()
    # Unfollowing someone you do not follow is harmless.
    follows.unfollow(db, alice["id"], bob["id"])


def test_cannot_follow_yourself(db, make_user):
    alice = make_user("alice")
    with pytest.raises(Invalid, match="yourself"):
        follows.follow(db, alice["id"], alice["id"])
    assert follow_rows(db) == set()


def test_cannot_follow_unknown_account(db, make_user):
    alice = make_user("alice")
    with pytest.raises(NotFound):
        follows.follow(db, alice["id"], 9999)


def test_lists_of_followers_and_following(db, make_user, clock):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    follows.follow(db, bob["id"], alice["id"])
    clock.advance(1)
    follows.follow(db, carol["id"], alice["id"])
    follows.follow(db, alice["id"], carol["id"])
    assert [p["username"] for p in follows.list_people(db, alice["id"], "followers")] == [
        "carol",
        "bob",
    ]
    assert [p["username"] for p in follows.list_people(db, alice["id"], "following")] == ["carol"]
    assert follows.following_ids(db, alice["id"]) == [carol["id"]]


# Protected accounts -----------------------------------------------------------------------------


def test_following_a_protected_account_asks_first(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    assert follows.follow(db, alice["id"], bob["id"]) == "requested"
    assert not follows.is_following(db, alice["id"], bob["id"])
    assert follows.has_requested(db, alice["id"], bob["id"])
    assert [p["username"] for p in follows.pending_requests(db, bob["id"])] == ["alice"]
    assert follows.counts(db, bob["id"])["followers"] == 0
    # Asking again does not make a second request.
    assert follows.follow(db, alice["id"], bob["id"]) == "requested"
    assert len(request_rows(db)) == 1


def test_approve_request(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    follows.follow(db, alice["id"], bob["id"])
    follows.approve(db, bob["id"], alice["id"])
    assert follows.is_following(db, alice["id"], bob["id"])
    assert request_rows(db) == set()
    assert follows.pending_requests(db, bob["id"]) == []
    # Once approved, following again just says so.
    assert follows.follow(db, alice["id"], bob["id"]) == "following"


def test_decline_request(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    follows.follow(db, alice["id"], bob["id"])
    follows.decline(db, bob["id"], alice["id"])
    assert not follows.is_following(db, alice["id"], bob["id"])
    assert request_rows(db) == set()
    # They may ask again.
    assert follows.follow(db, alice["id"], bob["id"]) == "requested"


def test_approving_a_request_that_does_not_exist(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    with pytest.raises(NotFound, match="gone"):
        follows.approve(db, bob["id"], alice["id"])
    assert follow_rows(db) == set()


def test_only_the_target_can_approve(db, make_user):
    alice, bob, carol = make_user("alice"), make_user("bob", protected=True), make_user("carol")
    follows.follow(db, alice["id"], bob["id"])
    with pytest.raises(NotFound):
        follows.approve(db, carol["id"], alice["id"])
    assert not follows.is_following(db, alice["id"], bob["id"])
    assert follows.has_requested(db, alice["id"], bob["id"])


def test_unfollow_withdraws_a_pending_request(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    follows.follow(db, alice["id"], bob["id"])
    follows.unfollow(db, alice["id"], bob["id"])
    assert request_rows(db) == set()


def test_going_public_approves_everyone_waiting(db, make_user):
    bob = make_user("bob", protected=True)
    alice, carol = make_user("alice"), make_user("carol")
    follows.follow(db, alice["id"], bob["id"])
    follows.follow(db, carol["id"], bob["id"])
    make_protected(db, bob, False)
    assert follows.is_following(db, alice["id"], bob["id"])
    assert follows.is_following(db, carol["id"], bob["id"])
    assert request_rows(db) == set()


def test_becoming_protected_keeps_existing_followers(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    follows.follow(db, alice["id"], bob["id"])
    make_protected(db, bob)
    assert follows.is_following(db, alice["id"], bob["id"])
    # New followers must ask.
    assert follows.follow(db, make_user("carol")["id"], bob["id"]) == "requested"


def test_saving_settings_while_protected_does_not_approve(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    follows.follow(db, alice["id"], bob["id"])
    make_protected(db, bob)
    assert not follows.is_following(db, alice["id"], bob["id"])
    assert follows.has_requested(db, alice["id"], bob["id"])


# Who sees an account's posts and follow lists --------------------------------------------------


def test_public_content_is_visible_to_everyone_signed_in_or_not(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    assert follows.can_see_content(db, alice["id"], bob)
    assert follows.can_see_content(db, None, bob)


def test_protected_content_only_for_approved_followers_and_the_owner(db, make_user):
    bob = make_user("bob", protected=True)
    alice, carol = make_user("alice"), make_user("carol")
    assert follows.can_see_content(db, bob["id"], bob)
    assert not follows.can_see_content(db, None, bob)
    assert not follows.can_see_content(db, alice["id"], bob)
    follows.follow(db, alice["id"], bob["id"])
    assert not follows.can_see_content(db, alice["id"], bob), "a pending request is not enough"
    follows.approve(db, bob["id"], alice["id"])
    assert follows.can_see_content(db, alice["id"], bob)
    assert not follows.can_see_content(db, carol["id"], bob)


def test_blocked_viewer_cannot_see_public_content(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, bob["id"], alice["id"])
    assert not follows.can_see_content(db, alice["id"], bob)
    # The block is one-way: bob still sees alice's public content.
    assert follows.can_see_content(db, bob["id"], alice)


def test_follower_who_gets_blocked_loses_protected_content(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    follows.follow(db, alice["id"], bob["id"])
    follows.approve(db, bob["id"], alice["id"])
    blocks.block(db, bob["id"], alice["id"])
    assert not follows.can_see_content(db, alice["id"], bob)
    blocks.unblock(db, bob["id"], alice["id"])
    assert not follows.can_see_content(db, alice["id"], bob), "unblock restores no follow"


def test_follow_counts_ignore_requests(db, make_user):
    bob = make_user("bob", protected=True)
    follows.follow(db, make_user("alice")["id"], bob["id"])
    assert dbm.scalar(db, "SELECT COUNT(*) FROM follow_requests") == 1
    assert follows.counts(db, bob["id"]) == {"followers": 0, "following": 0}


def test_cannot_follow_across_a_block_either_way(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    blocks.block(db, alice["id"], bob["id"])
    for a, b in ((alice, bob), (bob, alice)):
        with pytest.raises(Forbidden, match="cannot follow"):
            follows.follow(db, a["id"], b["id"])
    assert follow_rows(db) == set()
    assert request_rows(db) == set()
