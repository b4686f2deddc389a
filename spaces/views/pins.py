"""Pinning a post to a live Space: `Pin to my Space` on the host's own posts, `Unpin` in the room.

Both publish the room event, so every page of the room shows the change (its `Pinned` region)."""

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup

from .. import pins, room_render, rooms
from ..errors import Invalid
from ..web import current_user, get_db, is_htmx, login_required, publish

bp = Blueprint("pins", __name__)


def pin_target() -> dict | None:
    """The Space the signed-in person's posts show `Pin to my Space` for (a template global,
    read once per request)."""
    if "pin_target" not in g:
        g.pin_target = pins.pin_target(get_db(), current_user())
    return g.pin_target


@bp.post("/spaces/<int:space_id>/pin")
@login_required
def pin(space_id: int):
    """From a post: it becomes the Space's pinned post. The person stays where they were, told
    so in the page's alert area, with the way back to their Space."""
    try:
        post_id = int(request.form.get("post_id", ""))
    except ValueError:
        raise Invalid("Choose a post to pin.") from None
    publish(pins.pin(get_db(), space_id, current_user(), post_id))
    if not is_htmx():
        return redirect(url_for("rooms.room", space_id=space_id), 303)
    room = url_for("rooms.room", space_id=space_id)
    said = Markup('Pinned to your Space. <a href="{}">Back to the Space</a>').format(room)
    return render_template("_pinned_flash.html", said=said), 200, {"HX-Reswap": "none"}


@bp.post("/spaces/<int:space_id>/unpin")
@login_required
def unpin(space_id: int):
    db, user = get_db(), current_user()
    event = pins.unpin(db, space_id, user)
    publish(event)
    if not is_htmx():
        return redirect(url_for("rooms.room", space_id=space_id), 303)
    space = rooms.get(db, space_id)
    render = room_render.RoomRender(db, space, current_app.config["LISTENERS_SHOWN"])
    return render.fragments(user["id"], event.sections, notices=["Unpinned."])
