"""Profiles, follows and blocks."""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import accounts, blocks, follows, posts, rooms, space_cards
from .. import people as directory
from ..events import notified
from ..web import current_user, get_db, is_htmx, login_required, publish

bp = Blueprint("people", __name__)


def _profile_context(db, viewer: dict, person: dict) -> dict:
    me = viewer["id"]
    visible = follows.can_see_content(db, me, person)
    return {
        "person": person,
        "counts": follows.counts(db, person["id"]),
        "is_me": me == person["id"],
        "following": follows.is_following(db, me, person["id"]),
        "requested": follows.has_requested(db, me, person["id"]),
        "i_blocked": blocks.has_blocked(db, me, person["id"]),
        "blocked_me": blocks.has_blocked(db, person["id"], me),
        "content_visible": visible,
        "posts": space_cards.attach(db, me, posts.by_author(db, person["id"]), request.host)
        if visible
        else [],
    }


def _render_actions_or_redirect(person: dict):
    db = get_db()
    if is_htmx():  # the buttons, and the counts they changed (out-of-band)
        context = _profile_context(db, current_user(), person)
        return render_template("_profile_actions.html", **context) + render_template(
            "_profile_counts.html", oob=True, **context
        )
    return redirect(url_for("people.profile", username=person["username"]))


@bp.get("/people")
@login_required
def search():
    """`Search people`: the page, or as people type, the results list alone (htmx)."""
    query = request.args.get("q", "")
    found = directory.search(get_db(), current_user()["id"], query)
    if request.headers.get("HX-Target") == "people-results":  # typing, not a boosted submit
        return render_template("_people_results.html", query=query.strip(), people=found, oob=True)
    return render_template("people_search.html", query=query.strip(), people=found)


@bp.get("/u/<username>")
@login_required
def profile(username: str):
    db = get_db()
    person = accounts.by_username(db, username)
    context = _profile_context(db, current_user(), person)
    if context["blocked_me"]:
        context["posts"] = []
    return render_template("profile.html", **context)


@bp.get("/u/<username>/<any(followers, following):direction>")
@login_required
def people_list(username: str, direction: str):
    db = get_db()
    person = accounts.by_username(db, username)
    if not follows.can_see_content(db, current_user()["id"], person):
        return render_template("people_list.html", person=person, direction=direction, people=None)
    people = follows.list_people(db, person["id"], direction)
    return render_template("people_list.html", person=person, direction=direction, people=people)


# The profile's four buttons, each a change to how the viewer stands with the person.
RELATIONSHIP_ACTIONS = {
    "follow": follows.follow,
    "unfollow": follows.unfollow,
    "block": blocks.block,
    "unblock": blocks.unblock,
}


@bp.post("/u/<username>/<any(follow, unfollow, block, unblock):action>")
@login_required
def relate(username: str, action: str):
    """Follow, unfollow, block or unblock; answers with the buttons (htmx) or the profile."""
    db = get_db()
    me, person = current_user()["id"], accounts.by_username(db, username)
    if RELATIONSHIP_ACTIONS[action](db, me, person["id"]) == "requested":
        publish(notified([person["id"]]))  # their count shows the follow request at once
    if action == "block":  # a host's block also removes the person from the host's live Space
        for event in rooms.after_account_block(db, me, person["id"]):
            publish(event)
    return _render_actions_or_redirect(person)


@bp.get("/follow-requests")
@login_required
def follow_requests():
    return render_template(
        "follow_requests.html", requests=follows.pending_requests(get_db(), current_user()["id"])
    )


@bp.post("/follow-requests/<username>/<any(approve, decline):decision>")
@login_required
def decide_follow_request(username: str, decision: str):
    db = get_db()
    person = accounts.by_username(db, username)
    if decision == "approve":
        follows.approve(db, current_user()["id"], person["id"])
    else:
        follows.decline(db, current_user()["id"], person["id"])
    return redirect(url_for("people.follow_requests"))
