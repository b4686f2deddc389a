"""The edge's web app: listeners' sockets at the core's own paths: the audio socket, with the
core's wire formats (`&v=2&codec=opus` for v2, nothing for v1; docs/audio-protocol.md), and the
room page's live socket (HTML fragments the core's hub rendered: live_channel.py).

A socket is admitted with a grant the core signed (`?grant=`, spaces/grants.py) for this Space
and role listener; refused before the upgrade without one (401), with a forged, expired or
foreign one (403), after a verdict newer than the grant (403, or 410 once the Space ended), or
asking for a format the core does not speak (400).
After the upgrade the same caps as the core (SOCKETS_PER_ACCOUNT, SOCKETS_PER_ADDRESS: 4429).
Nothing a listener sends on the audio socket is used: only the core takes microphones. What a
room page sends is forwarded to the core, within the core's rate limit (message_rate.py).
The grant, not a cookie, says who the socket is for (the edge has no sessions): a page of another
site cannot ride a listener's cookies here, so no Origin check is needed as on the core.
"""

from flask import Flask, abort, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import grants
from ..realtime.audio_terms import RECEIVE_WAIT, audio_outbox, wire_codec
from ..realtime.close_codes import ENDED, TOO_MANY
from ..realtime.message_rate import POLICY_VIOLATION, MessageRate
from ..realtime.outbox import attach
from .live_channel import LIVE
from .node import EdgeNode
from .pages import RESYNC_CLOSE

sock = Sock()


def create_edge_app(settings: dict, node: EdgeNode) -> Flask:
    app = Flask(__name__)
    app.config.update(settings)
    if settings["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings["TRUSTED_PROXIES"], x_proto=settings["TRUSTED_PROXIES"]
        )
    app.extensions["spaces_edge"] = node
    app.before_request(check_grant)
    sock.init_app(app)
    return app


def check_grant() -> None:
    """Refused before the upgrade: no grant, not ours, not now, not for this Space, revoked."""
    if "space_id" not in (request.view_args or {}):  # not a socket route (a 404 follows)
        return
    if request.path.endswith("/audio") and wire_codec(request.args) is None:
        abort(400)
    token = request.args.get("grant", "")
    if not token:
        abort(401)
    try:
        grant = grants.check(current_app.config["SECRET_KEY"], token, request.view_args["space_id"])
    except grants.GrantRefused:
        abort(403)
    if grant.role != "listener":
        abort(403)
    refusal = current_app.extensions["spaces_edge"].refusal(grant)
    if refusal is not None:
        abort(410 if refusal[0] == ENDED else 403)
    request.environ["spaces.grant"] = grant


@sock.route("/spaces/<int:space_id>/audio")
def audio(ws, space_id: int):
    node: EdgeNode = current_app.extensions["spaces_edge"]
    grant = request.environ["spaces.grant"]
    outbox = audio_outbox(ws, current_app.config["SOCKET_SEND_TIMEOUT"])
    listener = node.admit(grant, outbox, request.remote_addr, wire_codec(request.args))
    if listener is None:
        outbox.close(TOO_MANY, "too many connections")
        return
    # Asked again now that the node knows this socket: a verdict that came between the
    # handshake's check and now found no socket to close.
    refusal = node.refusal(grant)
    if refusal is not None:
        outbox.close(*refusal)
    try:
        while not outbox.dead:
            ws.receive(timeout=RECEIVE_WAIT)  # pings and the client's close; nothing else
    except ConnectionClosed:
        pass
    finally:
        node.release(listener)
        if ws.connected:
            outbox.close(1000)


@sock.route("/spaces/<int:space_id>/live")
def live(ws, space_id: int):
    """A listener's room page: its full state from the core, then every change the core's hub
    publishes for the Space; what the page sends goes to the core."""
    node: EdgeNode = current_app.extensions["spaces_edge"]
    grant = request.environ["spaces.grant"]
    outbox = attach(
        ws,
        max_backlog=32,
        overflow="close",
        send_timeout=current_app.config["SOCKET_SEND_TIMEOUT"],
    )
    page = node.admit(grant, outbox, request.remote_addr, LIVE)
    if page is None:
        outbox.close(TOO_MANY, "too many connections")
        return
    try:
        refusal = node.refusal(grant)
        if refusal is not None:
            outbox.close(*refusal)
        elif not node.full_state(page):  # the core did not answer: the page tries again
            outbox.close(RESYNC_CLOSE, "try again later")
        rate = MessageRate()
        while not outbox.dead:
            message = ws.receive(timeout=5)
            if message is None:
                continue
            if not rate.allow():  # every message counts, as on the core
                outbox.close(POLICY_VIOLATION, "too many messages")
                break
            if isinstance(message, str):
                node.forward(page, message)
    except ConnectionClosed:
        pass
    finally:
        node.release(page)
        if ws.connected:
            outbox.close(1000)
        outbox.finish()
