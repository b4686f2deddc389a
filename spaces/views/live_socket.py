"""The room's live socket: HTML fragments pushed to the page, a few small messages from it."""

from flask import Blueprint, abort, current_app, request
from simple_websocket import ConnectionClosed

from .. import guest_session, rooms
from ..extensions import sock
from ..realtime import reactions_relay
from ..realtime.close_codes import TOO_MANY
from ..realtime.message_rate import POLICY_VIOLATION, MessageRate, page_message
from ..realtime.outbox import attach
from ..web import broker, current_user, get_db, live_hub, reactions_board, same_origin

bp = Blueprint("live", __name__)


@bp.before_request
def check_socket_request():
    """Refuses the upgrade itself (403/404): other sites, signed-out people, unknown Spaces.
    Anyone else is let in and told where they stand (hub.full_state): a page must learn that its
    person left or was removed, and a refused handshake only makes browsers dial again. A guest
    (no account) is let in only while their session says they listen to this Space."""
    if not same_origin():
        abort(403)
    space_id = request.view_args["space_id"]
    if current_user() is None and not guest_session.listening_in(space_id):
        abort(403)
    rooms.get(get_db(), space_id)  # 404 for an unknown Space


@sock.route("/spaces/<int:space_id>/live", bp=bp)
def live(ws, space_id: int):
    user = current_user()
    hub = live_hub()
    outbox = attach(
        ws,
        max_backlog=32,
        overflow="close",
        send_timeout=current_app.config["SOCKET_SEND_TIMEOUT"],
    )
    who = user["id"] if user else guest_session.connection_id()  # a guest: guests.py
    conn = hub.admit(space_id, who, outbox, "live", request.remote_addr)
    if conn is None:
        outbox.close(TOO_MANY, "too many connections")
        return
    if user is None:
        conn.captions_on = guest_session.captions_on()
    try:
        hub.full_state(conn)
        rate = MessageRate()
        while not outbox.dead:
            message = ws.receive(timeout=5)
            if message is None:
                continue
            if not rate.allow():
                outbox.close(POLICY_VIOLATION, "too many messages")
                break
            handle_message(hub, conn, message)
    except ConnectionClosed:
        pass
    finally:
        hub.disconnect(conn)
        if ws.connected:  # simple-websocket has not already closed it (1009, client close)
            outbox.close(1000)
        outbox.finish()


def handle_message(hub, conn, message) -> None:
    """Messages the page sends: whether the room is visible (captions go only to visible pages),
    and reactions and raised hands (reactions_relay.py)."""
    data = page_message(message)
    if data is None:
        return
    if data.get("type") == "visibility" and isinstance(data.get("visible"), bool):
        hub.set_visible(conn, data["visible"])
    elif data.get("type") in reactions_relay.MESSAGES:
        reactions_relay.receive(get_db(), hub, reactions_board(), broker(), conn, data)
