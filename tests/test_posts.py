"""Posts and the home timeline: yourself and the people you follow, nobody else."""

import pytest

from spaces import blocks, follows, posts
from spaces import db as dbm
from spaces.errors import Invalid


def bodies(rows: list[dict]) -> list[str]:
    return [r["body"] for r in rows]


def test_create_post(db, make_user, clock):
    alice = make_user("alice")
    post = posts.create(db, alice["id"], "  Hello world  ")
    assert post["body"] == "Hello world"
    assert post["author_id"] == alice["id"]
    assert post["created_at"] == clock.now()
    assert post["link"] is None


def test_post_of_280_characters_is_allowed_281_is_not(db, make_user):
    alice = make_user("alice")
    posts.create(db, alice["id"], "p" * 280)
    with pytest.raises(Invalid) as exc:
        posts.create(db, alice["id"], "p" * 281)
    assert exc.value.field == "body"
    assert "at most 280" in exc.value.message
    assert dbm.scalar(db, "SELECT COUNT(*) FROM posts") == 1


@pytest.mark.parametrize("body", ["", "    ", None])
def test_empty_post_is_refused(db, make_user, body):
    alice = make_user("alice")
    with pytest.raises(Invalid) as exc:
        posts.create(db, alice["id"], body)
    assert exc.value.field == "body"
    assert dbm.scalar(db, "SELECT COUNT(*) FROM posts") == 0


def test_post_can_carry_a_space_link(db, make_user):
    alice = make_user("alice")
    post = posts.create(db, alice["id"], "Listen in: Morning show", "/spaces/1")
    assert post["link"] == "/spaces/1"


@pytest.mark.parametrize("link", ["javascript:alert(1)", "//evil.example", "data:text/html,x"])
def test_post_refuses_unsafe_links(db, make_user, link):
    alice = make_user("alice")
    with pytest.raises(Invalid) as exc:
        posts.create(db, alice["id"], "Click", link)
    assert exc.value.field == "link"
    assert dbm.scalar(db, "SELECT COUNT(*) FROM posts") == 0


def test_timeline_is_yourself_and_people_you_follow_newest_first(db, make_user):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    follows.follow(db, alice["id"], bob["id"])
    posts.create(db, bob["id"], "bob 1")
    posts.create(db, carol["id"], "carol 1")
    posts.create(db, alice["id"], "alice 1")
    posts.create(db, bob["id"], "bob 2")
    assert bodies(posts.timeline(db, alice["id"])) == ["bob 2", "alice 1", "bob 1"]
    assert [r["username"] for r in posts.timeline(db, alice["id"])] == ["bob", "alice", "bob"]
    # Following is one-way: bob does not see alice.
    assert bodies(posts.timeline(db, bob["id"])) == ["bob 2", "bob 1"]
    assert bodies(posts.timeline(db, carol["id"])) == ["carol 1"]


def test_timeline_drops_people_you_unfollow(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    follows.follow(db, alice["id"], bob["id"])
    posts.create(db, bob["id"], "bob 1")
    follows.unfollow(db, alice["id"], bob["id"])
    assert bodies(posts.timeline(db, alice["id"])) == []


@pytest.mark.parametrize("who_blocks", ["reader", "author"])
def test_timeline_drops_people_across_a_block(db, make_user, who_blocks):
    alice, bob = make_user("alice"), make_user("bob")
    follows.follow(db, alice["id"], bob["id"])
    posts.create(db, bob["id"], "bob 1")
    if who_blocks == "reader":
        blocks.block(db, alice["id"], bob["id"])
    else:
        blocks.block(db, bob["id"], alice["id"])
    assert bodies(posts.timeline(db, alice["id"])) == []


def test_protected_posts_reach_only_approved_followers(db, make_user):
    alice, bob = make_user("alice"), make_user("bob", protected=True)
    posts.create(db, bob["id"], "for my followers")
    follows.follow(db, alice["id"], bob["id"])
    assert bodies(posts.timeline(db, alice["id"])) == [], "a pending request is not enough"
    follows.approve(db, bob["id"], alice["id"])
    assert bodies(posts.timeline(db, alice["id"])) == ["for my followers"]


def test_timeline_limit(db, make_user):
    alice = make_user("alice")
    for n in range(5):
        posts.create(db, alice["id"], f"post {n}")
    assert bodies(posts.timeline(db, alice["id"], limit=2)) == ["post 4", "post 3"]


def test_by_author_lists_only_that_author(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    posts.create(db, alice["id"], "a1")
    posts.create(db, bob["id"], "b1")
    posts.create(db, alice["id"], "a2")
    assert bodies(posts.by_author(db, alice["id"])) == ["a2", "a1"]
