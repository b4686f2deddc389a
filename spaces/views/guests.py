"""Guest listeners' actions (issue 18): `Listen as a guest`, `Leave` and `View captions` for a
visitor without an account. Each asks policy about the guest as an Actor (guest_session.actor);
everything else a guest might try goes to the routes for accounts, which send them to log in."""

from flask import Blueprint, redirect, request, url_for

from .. import guest_room, policy, rooms
from .. import guest_session as guest
from ..errors import Forbidden
from ..extensions import limiter
from ..web import current_user, get_db, is_htmx, live_hub

bp = Blueprint("guests", __name__)


def _guest_space(space_id: int, action: str) -> dict:
    """The Space, once the rules let this guest do `action` in it. A signed-in person is no
    guest: they are sent to the room, where they join as themselves."""
    if current_user() is not None:
        raise Forbidden("You are signed in: join the Space as yourself.")
    space = rooms.get(get_db(), space_id)
    reason = policy.why(guest.actor(space), action, space)
    if reason:
        raise Forbidden(reason)
    return space


def _answer(space: dict, said: str):
    if not is_htmx():
        return redirect(url_for("rooms.room", space_id=space["id"]))
    listening = guest.listening_in(space["id"])
    return guest_room.membership(get_db(), space, listening, guest.captions_on(), (said,))


@bp.post("/spaces/<int:space_id>/listen")
@limiter.limit("30 per minute")
def listen(space_id: int):
    """`Listen as a guest`: the page then opens the room's two sockets, as a join does."""
    space = _guest_space(space_id, "join")
    guest.start_listening(space_id)
    return _answer(space, "You are listening as a guest.")


@bp.post("/spaces/<int:space_id>/guest/leave")
def leave(space_id: int):
    space = _guest_space(space_id, "leave")
    guest.stop_listening()
    live_hub().close_guest(space_id, guest.connection_id())
    return _answer(space, "You left this Space.")


@bp.post("/spaces/<int:space_id>/guest/captions")
@limiter.limit("60 per minute")
def captions(space_id: int):
    """`View captions` for a guest, kept in their session (they have no account to keep it)."""
    space = _guest_space(space_id, "view_captions")
    on = request.form.get("on") == "1"
    guest.set_captions(on)
    live_hub().set_captions(space_id, guest.connection_id(), on)
    if not is_htmx():
        return redirect(url_for("rooms.room", space_id=space_id))
    return guest_room.captions(get_db(), space, on, oob=True)
