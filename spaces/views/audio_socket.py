"""The audio socket: binary 20 ms frames in from speakers, the room mix out to everyone.

The protocol is documented in docs/audio-protocol.md: v1 (bare PCM) unless the client asks for
v2 (`?v=2&codec=opus`).
"""

import functools

from flask import Blueprint, abort, current_app, g, request
from simple_websocket import ConnectionClosed

from .. import guest_session, guests, policy, rooms
from ..extensions import sock
from ..realtime.audio_terms import RECEIVE_WAIT, wire_codec
from ..realtime.close_codes import ENDED, GUESTS_OFF, LEFT, REMOVED, TOO_MANY
from ..realtime.listener_relay import RelayOutbox
from ..web import audio_engine, current_user, get_db, live_hub, same_origin

bp = Blueprint("audio", __name__)


@bp.before_request
def check_audio_request():
    """Refused before the upgrade: other sites, signed-out people who are not listening as guests,
    people not in a live Space, a wire format we do not speak."""
    if wire_codec(request.args) is None:
        abort(400)
    token_client = request.headers.get("Authorization", "").startswith("Bearer ")
    if not token_client and not same_origin():
        abort(403)
    user = current_user()
    if user is None and guest_session.number() is None:
        abort(401)
    db = get_db()
    space = rooms.get(db, request.view_args["space_id"])
    who = rooms.actor(db, space, user) if user else guest_session.actor(space)
    if space["ended_at"] is not None:
        abort(410)
    if not policy.can(who, "leave", space):  # i.e. present in the Space
        abort(403)
    g.read_later = True  # the listener relay's process may read this socket (socket_reader.py)


def standing(db, space_id: int, user: dict | None) -> tuple[int, str] | None:
    """Why this person (None: a listening guest) may no longer hold the socket (a close code and
    reason), or None."""
    space = rooms.get(db, space_id)
    if space["ended_at"] is not None:
        return ENDED, "ended"
    if user is None:  # a guest: they listen unless the host turned guests off
        who = guests.actor(listening=True)
        return None if policy.can(who, "leave", space) else (GUESTS_OFF, "guests off")
    who = rooms.actor(db, space, user)
    if not policy.can(who, "view", space):
        return REMOVED, "removed"
    if not policy.can(who, "leave", space):  # i.e. present in the Space
        return LEFT, "left"
    return None


@sock.route("/spaces/<int:space_id>/audio", bp=bp)
def audio(ws, space_id: int):
    engine = audio_engine()
    hub = live_hub()
    user = current_user()
    who = user["id"] if user else guests.connection_id(guest_session.number())
    codec = wire_codec(request.args)
    send_timeout = current_app.config["SOCKET_SEND_TIMEOUT"]
    # The listener relay's process reads and writes a listener's socket; the core, a speaker's.
    outbox = engine.outbox_for(ws, space_id, who, codec, send_timeout)
    relayed = isinstance(outbox, RelayOutbox)
    if not relayed:
        ws.thread.read()
    presence = conn = None
    handed = False
    try:
        presence = hub.admit(space_id, who, outbox, "audio", request.remote_addr)
        if presence is None:
            outbox.close(TOO_MANY, "too many connections")
            return
        # A guest (a negative id) is never on air: the engine takes frames from people on stage.
        conn = engine.connect(space_id, who, outbox, codec)
        # Asked again now that the engine knows this socket: a leave, a removal or the end
        # published between the handshake's check and now found no socket of theirs to close.
        gone = standing(get_db(), space_id, user)
        if gone:
            outbox.close(*gone)
        if relayed:
            handed = outbox.hand_over(functools.partial(leave, engine, hub, conn, presence))
            if handed:
                ws.connected = False  # flask-sock must not close it: the relay process has it
                return
            outbox.closed.wait()  # kept here (closing, or no descriptor to spare): the relay
            # still reads it, and says when it has ended
        while not outbox.dead:
            data = ws.receive(timeout=RECEIVE_WAIT)
            if data is not None:
                engine.receive(conn, data)
    except ConnectionClosed:
        pass
    finally:
        if not handed:  # else the relay's end of it calls `leave`
            leave(engine, hub, conn, presence)
            if ws.connected:  # simple-websocket has not already closed it (1009, client close)
                outbox.close(1000)
            outbox.finish()  # any close frame out before the server shuts the connection


def leave(engine, hub, conn, presence) -> None:
    """The audio socket has ended: the engine and the hub let it go."""
    if conn is not None:
        engine.disconnect(conn)
    if presence is not None:
        hub.disconnect(presence)
