"""The room as a guest listener sees it (issue 18): the sections any guest sees (rendered by
room_render.RoomRender for the viewer None), their own controls (`Listen as a guest`, `Leave`,
`Log in` and `Sign up` that come back here), their captions toggle (kept in their session), and
what replaces the room when the host turns guests off. Views and the live hub both use it."""

from collections.abc import Sequence

from flask import current_app, render_template, url_for
from markupsafe import Markup
from sqlite_utils import Database

from . import captions_store, guests, policy, room_render


def controls(space: dict, listening: bool, oob: bool = True) -> str:
    """`Listen as a guest` or `Leave`, and while listening the Reactions group (no hand)."""
    return render_template(
        "rooms/_guest_controls.html",
        space=space,
        listening=listening,
        viewer=guests.actor(listening),
        can=policy.can,
        next_path=url_for("rooms.room", space_id=space["id"]),
        oob=oob,
    )


def captions(db: Database, space: dict, on: bool, oob: bool = False) -> Markup:
    """The `View captions` toggle, posting to the guests' own route; the log when on."""
    relay = current_app.extensions.get("spaces_captions")
    return Markup(  # noqa: S704 - an autoescaped template's output
        render_template(
            "rooms/_captions.html",
            space=space,
            captions_on=on,
            toggle_url=url_for("guests.captions", space_id=space["id"]),
            captions_available=bool(relay and relay.status()["available"]),
            recent=captions_store.for_space(db, space["id"], limit=20) if on else [],
            oob=oob,
        )
    )


def membership(
    db: Database, space: dict, listening: bool, captions_on: bool, notices: Sequence[str] = ()
) -> str:
    """What changes on a guest's page when they start or stop listening (as for an account:
    room_render.membership): their controls, their captions and the room's live socket."""
    parts = [
        controls(space, listening),
        captions(db, space, listening and captions_on, oob=True),
        room_render.live_socket(space, listening),
    ]
    if notices:
        parts.append(room_render.status(" ".join(notices)))
    return "".join(parts)


def page(db: Database, space: dict, listening: bool, captions_on: bool) -> dict:
    """What rooms/room.html shows a guest: the room read-only, and their own controls."""
    render = room_render.RoomRender(db, space, current_app.config["LISTENERS_SHOWN"])
    html = {name: render.section(name, None, oob=False) for name in room_render.SECTION_TEMPLATES}
    html["controls"] = controls(space, listening, oob=False)
    html["captions"] = captions(db, space, listening and captions_on)
    html["socket"] = room_render.live_socket(space, listening, oob=False)
    return {
        "space": space,
        "viewer": render.viewer(None),
        "guest": True,
        "next_path": url_for("rooms.room", space_id=space["id"]),
        "sections": {name: Markup(part) for name, part in html.items()},  # noqa: S704 - rendered autoescaped
    }


def turned_off(space: dict) -> str:
    """Replaces the whole room for a guest once the host turns guests off."""
    return render_template(
        "rooms/_guests_off.html",
        space=space,
        reason=policy.GUESTS_OFF,
        next_path=url_for("rooms.room", space_id=space["id"]),
    )
