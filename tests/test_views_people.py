"""People over HTTP: profiles, follows, protected accounts, blocks, settings, messages, home."""

import pytest

from spaces import db as dbm
from testkit.html_query import field_error, field_value, parse


def count(app, sql: str, params=()) -> int:
    return dbm.scalar(dbm.connect(app.config["DATABASE"]), sql, params)


def set_protected(person, protected=True, **fields):
    data = {"display_name": fields.get("display_name", person.username), "bio": ""}
    data.update(fields)
    if protected:
        data["protected"] = "on"
    response = person.post("/settings", data=data, htmx=False)
    assert response.status_code == 200
    return response


def start_space(person, title="Morning chat") -> str:
    response = person.post(
        "/spaces/new", data={"title": title, "speaker_policy": "everyone"}, htmx=False
    )
    assert response.status_code == 302, response.data
    return response.headers["Location"]


# Profiles ------------------------------------------------------------------------------------


def test_profile_shows_name_bio_counts_and_actions(browser):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/settings", data={"display_name": "Alice Liddell", "bio": "Down the rabbit hole"})
    browser("carol").post("/u/alice/follow")
    doc = parse(bob.get("/u/alice").data)
    assert doc.find("h1").text == "Alice Liddell"
    assert "@alice" in doc.text
    assert "Down the rabbit hole" in doc.text
    links = doc.links()
    assert links["1 follower"] == "/u/alice/followers"
    assert links["0 following"] == "/u/alice/following"
    assert {"Follow", "Block"} <= set(doc.buttons())
    assert links["Message"] == "/messages/alice"
    assert links["Report"] == "/reports/new?account=alice"
    # The Report button leads to a working form, not a dead end.
    report = parse(bob.get(links["Report"]).data)
    assert "@alice" in report.text and "Send report" in report.buttons()


def test_own_profile_has_no_follow_or_block(browser):
    alice = browser("alice")
    doc = parse(alice.get("/u/alice").data)
    assert "Follow" not in doc.buttons() and "Block" not in doc.buttons()
    assert "Edit profile" in doc.links()


def test_follow_and_unfollow(browser):
    alice, bob = browser("alice"), browser("bob")
    response = bob.post("/u/alice/follow")
    assert response.status_code == 200
    actions = parse(response.data).by_id("profile-actions")
    assert "Unfollow" in actions.buttons() and "Follow" not in actions.buttons()
    # The count changes on the page at once (out-of-band), in the singular for one.
    counts = parse(response.data).by_id("profile-counts")
    assert counts.get("hx-swap-oob") == "true" and "1 follower" in counts.links()
    assert "1 follower" in parse(bob.get("/u/alice").data).links()
    browser("carol").post("/u/alice/follow")
    assert "2 followers" in parse(bob.get("/u/alice").data).links()
    assert "bob" in parse(alice.get("/u/alice/followers").data).text
    assert "alice" in parse(bob.get("/u/bob/following").data).text

    response = bob.post("/u/alice/unfollow")
    assert "Follow" in parse(response.data).by_id("profile-actions").buttons()
    assert "1 follower" in parse(response.data).by_id("profile-counts").links()
    assert "1 follower" in parse(bob.get("/u/alice").data).links()


def test_follow_without_htmx_returns_to_the_profile(browser):
    browser("alice")
    bob = browser("bob")
    response = bob.post("/u/alice/follow", htmx=False)
    assert response.status_code == 302 and response.headers["Location"] == "/u/alice"


def test_following_yourself_is_refused_with_a_message(browser):
    alice = browser("alice")
    response = alice.post("/u/alice/follow")
    assert response.status_code == 400
    assert "cannot follow yourself" in parse(response.data).by_id("flash").text


def test_unknown_profile_action_target_is_404(browser):
    bob = browser("bob")
    assert bob.post("/u/nobody/follow").status_code == 404
    assert bob.get("/u/nobody/followers").status_code == 404


# Protected accounts --------------------------------------------------------------------------


def test_protected_posts_are_hidden_from_non_followers(browser, app):
    alice, carol = browser("alice"), browser("carol")
    alice.post("/posts", data={"body": "secret thoughts"})
    set_protected(alice)
    doc = parse(carol.get("/u/alice").data)
    assert "secret thoughts" not in doc.text
    assert "Only approved followers" in doc.text
    followers = parse(carol.get("/u/alice/followers").data)
    assert "This account is protected" in followers.text
    assert "secret thoughts" not in carol.get("/").data.decode()


def test_follow_request_approved_shows_posts(browser, app):
    alice, carol = browser("alice"), browser("carol")
    alice.post("/posts", data={"body": "secret thoughts"})
    set_protected(alice)

    response = carol.post("/u/alice/follow")
    actions = parse(response.data).by_id("profile-actions")
    assert "Follow request sent" in actions.text
    assert "Cancel follow request" in actions.buttons()
    assert "secret thoughts" not in carol.get("/u/alice").data.decode()

    requests = parse(alice.get("/follow-requests").data)
    assert requests.list_items("requests-heading")[0].startswith("carol")
    assert {"Approve", "Decline"} <= set(requests.buttons())
    response = alice.post("/follow-requests/carol/approve", htmx=False)
    assert response.status_code == 302
    assert "carol" not in parse(alice.get("/follow-requests").data).text.split()

    assert "secret thoughts" in parse(carol.get("/u/alice").data).text
    assert "secret thoughts" in parse(carol.get("/").data).by_id("timeline").text
    assert "carol" in parse(carol.get("/u/alice/followers").data).text
    assert count(app, "SELECT COUNT(*) FROM follows") == 1


def test_a_pending_follow_request_shows_in_the_navigation_and_on_the_profile(browser):
    alice, carol, dave = browser("alice"), browser("carol"), browser("dave")
    set_protected(alice)
    assert "Follow requests" not in parse(alice.get("/").data).find("nav").links()
    carol.post("/u/alice/follow")
    dave.post("/u/alice/follow")
    nav = parse(alice.get("/").data).find("nav")
    assert nav.links()["Follow requests 2"] == "/follow-requests"
    assert "Follow requests 2" in parse(alice.get("/u/alice").data).by_id("profile-actions").links()
    alice.post("/follow-requests/carol/approve", htmx=False)
    alice.post("/follow-requests/dave/decline", htmx=False)
    assert "Follow requests" not in parse(alice.get("/").data).find("nav").links()


def test_follow_request_declined_keeps_posts_hidden(browser, app):
    alice, carol = browser("alice"), browser("carol")
    alice.post("/posts", data={"body": "secret thoughts"})
    set_protected(alice)
    carol.post("/u/alice/follow")
    alice.post("/follow-requests/carol/decline", htmx=False)
    assert "No requests." in parse(alice.get("/follow-requests").data).text
    doc = parse(carol.get("/u/alice").data)
    assert "secret thoughts" not in doc.text
    assert "Follow" in doc.buttons()
    assert count(app, "SELECT COUNT(*) FROM follows") == 0


def test_approving_a_request_that_does_not_exist_is_404(browser):
    alice = browser("alice")
    browser("carol")
    set_protected(alice)
    response = alice.post("/follow-requests/carol/approve", htmx=False)
    assert response.status_code == 404
    assert "gone" in parse(response.data).text


def test_protected_account_sees_own_posts(browser):
    alice = browser("alice")
    set_protected(alice)
    alice.post("/posts", data={"body": "note to self"})
    assert "note to self" in parse(alice.get("/u/alice").data).text


# Blocks --------------------------------------------------------------------------------------


def test_blocked_person_cannot_message(browser, app):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/u/bob/block")
    response = bob.post("/messages/alice", data={"body": "hello?"})
    assert response.status_code == 403
    assert "You cannot message this account." in parse(response.data).text
    response = bob.post("/messages/alice", data={"body": "hello?"}, htmx=False)
    assert response.status_code == 403
    assert count(app, "SELECT COUNT(*) FROM messages") == 0
    page = parse(bob.get("/messages/alice").data)
    assert "You cannot message this account." in page.text
    assert "Send" not in page.buttons()
    # The blocker cannot message them either while the block stands.
    assert alice.post("/messages/bob", data={"body": "bye"}).status_code == 403


def test_blocked_person_cannot_follow(browser, app):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/u/bob/block")
    response = bob.post("/u/alice/follow")
    assert response.status_code == 403
    assert "You cannot follow this account." in parse(response.data).by_id("flash").text
    response = bob.post("/u/alice/follow", htmx=False)
    assert response.status_code == 403
    assert "You cannot follow this account." in parse(response.data).text
    assert count(app, "SELECT COUNT(*) FROM follows") == 0
    doc = parse(bob.get("/u/alice").data)
    assert "Follow" not in doc.buttons()
    assert "Message" not in doc.links()


def test_blocked_person_cannot_see_blockers_posts(browser):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/settings", data={"display_name": "alice", "bio": "my bio"})
    alice.post("/posts", data={"body": "public musings"})
    alice.post("/u/bob/block")
    doc = parse(bob.get("/u/alice").data)
    assert "public musings" not in doc.text
    assert "my bio" not in doc.text
    assert "You cannot see this account's posts." in doc.text
    assert "public musings" not in bob.get("/").data.decode()


def test_block_removes_follows_both_ways_and_unblock_restores_nothing(browser, app):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/u/bob/follow")
    bob.post("/u/alice/follow")
    response = alice.post("/u/bob/block")
    assert "Unblock" in parse(response.data).by_id("profile-actions").buttons()
    assert count(app, "SELECT COUNT(*) FROM follows") == 0
    response = alice.post("/u/bob/unblock")
    assert "Block" in parse(response.data).buttons()
    assert count(app, "SELECT COUNT(*) FROM follows") == 0
    # After the unblock they may follow again.
    assert bob.post("/u/alice/follow").status_code == 200
    assert count(app, "SELECT COUNT(*) FROM follows") == 1


# People search ---------------------------------------------------------------------------------


def test_people_search_page_lists_matches_by_name(browser):
    alice, _, _ = browser("alice"), browser("hana"), browser("hank")
    page = parse(alice.get("/").data)
    assert page.find("nav").links()["People"] == "/people"
    doc = parse(alice.get("/people").data)
    assert doc.find("label", for_="q").text == "Search people"
    assert doc.find("input", id="q").get("type") == "search"
    assert doc.list_items("people-heading") == []
    assert "Type a name" in doc.by_id("people-count").text

    doc = parse(alice.get("/people?q=HAN").data)
    assert doc.list_items("people-heading") == ["hana @hana", "hank @hank"]
    assert doc.find("ul", aria_labelledby="people-heading").links() == {
        "hana": "/u/hana",
        "hank": "/u/hank",
    }
    assert doc.by_id("people-count").text == "2 found for “HAN”."


def test_people_search_as_you_type_answers_the_results_and_the_count(browser):
    alice, _ = browser("alice"), browser("hana")
    headers = {"HX-Request": "true", "HX-Target": "people-results"}
    response = alice.get("/people?q=zz", headers=headers)
    doc = parse(response.data)
    assert doc.find("nav") is None  # the fragment, not the page
    assert doc.by_id("people-results") is not None
    assert doc.by_id("people-count").get("hx-swap-oob") == "innerHTML"
    assert doc.by_id("people-count").text == "Nobody found for “zz”."
    # A boosted form submission is htmx too, but wants the page.
    boosted = parse(alice.get("/people?q=ha", headers={"HX-Request": "true"}).data)
    assert boosted.find("nav") is not None and boosted.list_items("people-heading") == [
        "hana @hana"
    ]


def test_people_search_hides_blocked_people_both_ways(browser):
    alice, hana, hank = browser("alice"), browser("hana"), browser("hank")
    alice.post("/u/hana/block")
    hank.post("/u/alice/block")
    assert parse(alice.get("/people?q=h").data).list_items("people-heading") == []
    assert parse(hana.get("/people?q=al").data).list_items("people-heading") == []


def test_people_search_needs_sign_in(app):
    response = app.test_client().get("/people?q=a")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# Settings ------------------------------------------------------------------------------------


def test_settings_page_has_the_named_controls(browser):
    doc = parse(browser("alice").get("/settings").data)
    labels = {label.get("for"): label.text for label in doc.find_all("label")}
    assert labels["protected"] == "Protect my posts"
    assert labels["caption_consent"] == "Allow captions of my voice"
    assert doc.find("input", id="protected").get("type") == "checkbox"
    assert "Save" in doc.buttons()


def test_settings_save_and_show_on_reload_and_profile(browser):
    alice = browser("alice")
    response = alice.post(
        "/settings",
        data={
            "display_name": "Alice L.",
            "bio": "Hello there",
            "protected": "on",
            "caption_consent": "on",
        },
        htmx=False,
    )
    assert response.status_code == 200
    assert "Saved." in parse(response.data).text
    doc = parse(alice.get("/settings").data)
    assert field_value(alice.get("/settings").data, "display_name") == "Alice L."
    assert doc.find("textarea", name="bio").text == "Hello there"
    assert "checked" in doc.find("input", id="protected").attrs
    assert "checked" in doc.find("input", id="caption_consent").attrs
    profile = parse(alice.get("/u/alice").data)
    assert profile.find("h1").text == "Alice L."
    assert "Protected posts" in profile.text

    alice.post("/settings", data={"display_name": "Alice L.", "bio": ""}, htmx=False)
    doc = parse(alice.get("/settings").data)
    assert "checked" not in doc.find("input", id="protected").attrs
    assert "checked" not in doc.find("input", id="caption_consent").attrs


def consent_of(app, username: str):
    db = dbm.connect(app.config["DATABASE"])
    return dbm.scalar(db, "SELECT caption_consent FROM users WHERE username = ?", (username,))


def test_saving_settings_does_not_answer_the_captions_question(browser, app):
    alice = browser("alice")
    doc = parse(alice.get("/settings").data)
    assert "You have not answered yet" in doc.by_id("caption_consent-hint").text
    # The form as a browser sends it with the box left unticked.
    unticked = {"display_name": "Alice L.", "bio": "", "caption_consent_unasked": "1"}
    assert alice.post("/settings", data=unticked, htmx=False).status_code == 200
    assert consent_of(app, "alice") is None
    assert "You have not answered yet" in parse(alice.get("/settings").data).text

    ticked = {"display_name": "Alice L.", "bio": "", "caption_consent": "on"}
    alice.post("/settings", data={**ticked, "caption_consent_unasked": "1"}, htmx=False)
    assert consent_of(app, "alice") == 1
    doc = parse(alice.get("/settings").data)
    assert "You have not answered yet" not in doc.text
    assert doc.find("input", name="caption_consent_unasked") is None
    # Answered once, unticking is "no".
    alice.post("/settings", data={"display_name": "Alice L.", "bio": ""}, htmx=False)
    assert consent_of(app, "alice") == 0


def test_an_unanswered_captions_question_survives_a_failed_save(browser, app):
    alice = browser("alice")
    data = {"display_name": "", "bio": "", "caption_consent_unasked": "1"}
    response = alice.post("/settings", data=data, htmx=False)
    assert response.status_code == 400
    assert parse(response.data).find("input", name="caption_consent_unasked") is not None
    assert consent_of(app, "alice") is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "x" * 51, "at most 50 characters"),
        ("display_name", "   ", "Enter a display name"),
        ("bio", "b" * 161, "at most 160 characters"),
    ],
)
def test_settings_bounds_show_error_next_to_field_and_keep_input(
    browser, app, field, value, message
):
    alice = browser("alice")
    data = {"display_name": "Alice", "bio": "short bio", "protected": "on"}
    data[field] = value
    response = alice.post("/settings", data=data, htmx=False)
    assert response.status_code == 400
    assert message in field_error(response.data, field)
    assert field_value(response.data, field).strip() == value.strip()
    doc = parse(response.data)
    assert "Saved." not in doc.text
    assert "checked" in doc.find("input", id="protected").attrs  # what was typed stays
    row = dbm.one(
        dbm.connect(app.config["DATABASE"]),
        "SELECT display_name, bio, protected FROM users WHERE username = 'alice'",
    )
    assert row == {"display_name": "alice", "bio": "", "protected": 0}


# Direct messages -----------------------------------------------------------------------------


def test_message_shows_in_thread_inbox_and_unread_count(browser, app):
    alice, bob = browser("alice"), browser("bob")
    response = alice.post("/messages/bob", data={"body": "Hi Bob"})
    assert response.status_code == 200
    doc = parse(response.data)
    thread = doc.by_id("thread")
    assert thread.get("hx-swap-oob") == "true"
    assert "alice: Hi Bob" in thread.text
    assert field_value(response.data, "body") == ""  # a fresh form

    home = parse(bob.get("/").data)
    assert home.by_id("unread").text == "1 unread"
    assert parse(bob.get("/nav/unread").data).by_id("unread").text == "1 unread"
    inbox = parse(bob.get("/messages").data)
    item = inbox.list_items("inbox-heading")[0]
    assert item.startswith("alice") and "1 unread" in item and "Hi Bob" in item

    conversation = parse(bob.get("/messages/alice").data)
    assert "alice: Hi Bob" in conversation.by_id("thread").text
    assert parse(bob.get("/nav/unread").data).by_id("unread").text == ""
    assert "unread" not in parse(bob.get("/messages").data).list_items("inbox-heading")[0]


def test_new_messages_appear_in_the_polled_thread(browser):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/messages/bob", data={"body": "Ping"})
    page = parse(alice.get("/messages/bob").data).by_id("thread")
    assert page.get("hx-get") == "/messages/bob/thread"
    assert "every" in page.get("hx-trigger")
    before = parse(alice.get("/messages/bob/thread").data).by_id("thread")
    assert "Pong" not in before.text
    bob.post("/messages/alice", data={"body": "Pong"})
    after = parse(alice.get("/messages/bob/thread").data).by_id("thread")
    assert "bob: Pong" in after.text
    assert after.text.index("Ping") < after.text.index("Pong")


def test_message_with_a_link_shows_the_link(browser):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/messages/bob", data={"body": "Come listen", "link": "/spaces/7"})
    assert "/spaces/7" in parse(bob.get("/messages/alice").data).by_id("thread").links()


def test_empty_or_long_message_shows_error_next_to_field(browser, app):
    alice = browser("alice")
    browser("bob")
    response = alice.post("/messages/bob", data={"body": "   "})
    assert response.status_code == 400
    assert "Write a message" in field_error(response.data, "body")
    response = alice.post("/messages/bob", data={"body": "y" * 1001}, htmx=False)
    assert response.status_code == 400
    assert "at most 1000 characters" in field_error(response.data, "body")
    assert field_value(response.data, "body") == "y" * 1001
    assert count(app, "SELECT COUNT(*) FROM messages") == 0


def test_message_to_unknown_person_is_404(browser):
    alice = browser("alice")
    assert alice.post("/messages/nobody", data={"body": "hi"}).status_code == 404
    assert alice.get("/messages/nobody/thread").status_code == 404


# Home: posts and Live now ---------------------------------------------------------------------


def test_home_timeline_shows_own_and_followed_posts_only(browser):
    alice, bob, carol = browser("alice"), browser("bob"), browser("carol")
    bob.post("/u/alice/follow")
    response = alice.post("/posts", data={"body": "First post!"})
    assert response.status_code == 200
    assert "First post!" in parse(response.data).by_id("timeline").text
    carol.post("/posts", data={"body": "Carol speaking"})
    bob.post("/posts", data={"body": "Bob here"})

    timeline = parse(bob.get("/").data).by_id("timeline").text
    assert "First post!" in timeline and "Bob here" in timeline
    assert "Carol speaking" not in timeline
    assert timeline.index("Bob here") < timeline.index("First post!")  # newest first
    assert "First post!" not in parse(carol.get("/").data).by_id("timeline").text


def test_too_long_post_shows_error_and_keeps_text(browser, app):
    alice = browser("alice")
    response = alice.post("/posts", data={"body": "z" * 281})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#post-form"
    assert "at most 280 characters" in field_error(response.data, "body")
    assert field_value(response.data, "body") == "z" * 281
    response = alice.post("/posts", data={"body": ""}, htmx=False)
    assert response.status_code == 400
    assert "Write something" in field_error(response.data, "body")
    assert count(app, "SELECT COUNT(*) FROM posts") == 0


def test_live_now_is_the_first_region_on_home(browser):
    alice = browser("alice")
    main = parse(alice.get("/").data).find("main")
    first = next(n for n in main.iter() if n.tag in ("section", "div", "form"))
    assert first.get("aria-labelledby") == "live-now-heading"
    assert main.by_id("live-now-heading").text == "Live now"


def test_live_now_lists_spaces_of_people_you_follow(browser):
    alice, bob, carol = browser("alice"), browser("bob"), browser("carol")
    bob.post("/u/alice/follow")
    room = start_space(alice, "Tea time")
    carol.post(room + "/join")

    region = parse(bob.get("/").data).by_id("live-now")
    assert region.links()["Tea time"] == room
    assert "Hosted by alice" in region.text and "1 listening" in region.text
    # The region refreshes itself without a reload, from its own fragment.
    assert region.get("hx-get") == "/live-now" and "every" in region.get("hx-trigger")
    fragment = parse(bob.get("/live-now").data).by_id("live-now")
    assert "Tea time" in fragment.text

    assert "Tea time" not in parse(carol.get("/").data).by_id("live-now").text
    assert "Nobody you follow is live" in parse(carol.get("/").data).by_id("live-now").text

    alice.post(room + "/end")
    assert "Tea time" not in parse(bob.get("/live-now").data).text


def test_live_now_includes_spaces_where_someone_you_follow_speaks(browser):
    alice, bob, dave = browser("alice"), browser("bob"), browser("dave")
    bob.post("/u/alice/follow")
    room = start_space(dave, "Dave's show")
    assert "Dave's show" not in parse(bob.get("/live-now").data).text
    alice.post(room + "/join")
    alice_id = alice.user["id"]
    dave.post(f"{room}/people/{alice_id}/make-speaker")
    region = parse(bob.get("/live-now").data).by_id("live-now")
    assert "Dave's show" in region.text and "Speakers: alice" in region.text
