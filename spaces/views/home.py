"""Home: a landing page for visitors; the timeline and `Live now` for signed-in people."""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import posts, rooms, schedule, space_cards
from ..errors import DomainError
from ..extensions import limiter
from ..web import current_user, get_db, is_htmx, login_required

bp = Blueprint("home", __name__)


def _timeline(db, user: dict) -> list[dict]:
    """The timeline, with the cards of the Spaces its posts link (space_cards.py)."""
    return space_cards.attach(db, user["id"], posts.timeline(db, user["id"]), request.host)


@bp.get("/")
def index():
    user = current_user()
    if user is None:
        return render_template("landing.html")
    db = get_db()
    return render_template(
        "home.html",
        timeline=_timeline(db, user),
        live_now=rooms.live_now(db, user["id"]),
        upcoming=schedule.upcoming(db, user["id"], followed_only=True, limit=10),
        form={},
        errors={},
    )


@bp.get("/live-now")
@login_required
def live_now():
    """Polled by the `Live now` region so it updates without a reload."""
    return render_template(
        "_live_now.html", live_now=rooms.live_now(get_db(), current_user()["id"])
    )


@bp.post("/posts")
@login_required
@limiter.limit("30 per minute")
def create_post():
    user = current_user()
    db = get_db()
    body = request.form.get("body", "")
    try:
        posts.create(db, user["id"], body, request.form.get("link"))
    except DomainError as exc:
        status = exc.status
        template = "_post_form.html" if is_htmx() else "home.html"
        return (
            render_template(
                template,
                timeline=_timeline(db, user),
                live_now=rooms.live_now(db, user["id"]),
                form={"body": body},
                errors={exc.field or "body": exc.message},
            ),
            status,
            ({"HX-Retarget": "#post-form", "HX-Reswap": "outerHTML"} if is_htmx() else {}),
        )
    if is_htmx():
        return render_template(
            "_timeline.html",
            timeline=_timeline(db, user),
            form={},
            errors={},
            oob_form=True,
        )
    return redirect(url_for("home.index"))
