"""The audio address: where this person's audio socket goes (spaces/edge/addresses.py).

Asked by the browser's audio code (when the room page says edges serve this deployment) and by
the terminal client before each connection, so a grant is always fresh and a promoted listener
is sent back to the core. Anyone who may hold the core's audio socket may ask.
"""

from flask import Blueprint, abort, current_app, jsonify

from .. import policy, rooms
from ..edge.addresses import audio_addresses, edge_urls
from ..web import current_user, get_db

bp = Blueprint("edge_address", __name__)


@bp.get("/spaces/<int:space_id>/audio-address")
def address(space_id: int):
    return jsonify(urls=_addresses(space_id, "audio"))


@bp.get("/spaces/<int:space_id>/live-address")
def live_address(space_id: int):
    """Where the room page's live socket goes: asked by static/edge-live.js before each
    connection (when the page carries `data-live-address`), as the audio address is."""
    return jsonify(urls=_addresses(space_id, "live"))


def _addresses(space_id: int, socket: str) -> list[str]:
    user = current_user()
    if user is None:
        abort(401)
    db = get_db()
    space = rooms.get(db, space_id)
    who = rooms.actor(db, space, user)
    if space["ended_at"] is not None:
        abort(410)
    if not policy.can(who, "leave", space):  # i.e. present in the Space, as the audio socket
        abort(403)
    settings = current_app.config
    edges = edge_urls(settings["EDGE_URLS"])
    return audio_addresses(edges, settings["SECRET_KEY"], user["id"], space_id, who.role, socket)
