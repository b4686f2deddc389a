"""The core's hub, seen from the edges: what the hub's flushes mean for room pages on edges, and
the edges' requests answered as the hub answers its own sockets (live_channel.py has the wire).

The rules stay here, on the core: a full state is `LiveHub.full_state` itself, run on a stand-in
connection whose outbox keeps what it is given; a page's message is `live_socket.handle_message`'s
work on the same stand-in, whose pushes go to that person's pages on the edges. Only listeners
are served by edges (grants are signed for them alone), so a flush publishes the listener kind's
frame once, and frames of their own for the few listeners who need one.
"""

import json
import logging
from dataclasses import dataclass, field

from .. import accounts, guests, policy, room_render, rooms
from ..realtime import reactions_relay
from ..realtime.close_codes import ENDED, LEFT, REMOVED, RESTART
from ..realtime.hub import Connection, LiveHub
from ..realtime.message_rate import page_message
from .live_channel import LivePublisher

log = logging.getLogger(__name__)


@dataclass
class KeptOutbox:
    """A stand-in connection's outbox: keeps the frames' HTML and the close, for the reply."""

    pushed: list[str] = field(default_factory=list)
    closed: tuple[int, str] | None = None
    dead: bool = False

    def push(self, data: bytes) -> None:
        self.pushed.append(_html(data))

    def close(self, code: int, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)


class EdgeOutbox:
    """A stand-in connection's outbox whose pushes go to that person's pages on the edges."""

    dead = False

    def __init__(self, publisher: LivePublisher, space_id: int, user_id: int) -> None:
        self.publisher, self.space_id, self.user_id = publisher, space_id, user_id

    def push(self, data: bytes) -> None:
        self.publisher.publish(self.space_id, {"users": {str(self.user_id): _html(data)}})

    def close(self, code: int, reason: str = "") -> None:
        self.publisher.publish(self.space_id, {"close": {str(self.user_id): [code, reason, ""]}})


class EdgeLiveBridge:
    def __init__(self, hub: LiveHub, publisher: LivePublisher, board, broker) -> None:
        self.hub = hub
        self.publisher = publisher
        self.board = board
        self.broker = broker
        publisher.answer = self.answer

    def wants(self, space_id: int) -> bool:
        return self.publisher.wants(space_id)

    # From the hub ------------------------------------------------------------------------------

    def ended(self, space: dict) -> None:
        html = room_render.ended(space)
        self.publisher.publish(space["id"], {"end": [ENDED, "ended", html]})

    def flush(self, db, space: dict, dirt, render, notices: dict[int, list[str]]) -> None:
        """One flush of the hub, for the Space's listeners on edges (who they are is the edges'
        business: frames of their own go to the listeners this flush names)."""
        close: dict[str, list] = {}
        for user_id in dirt.removed:
            close[str(user_id)] = [REMOVED, "removed", room_render.removed(space)]
        named = (set(dirt.users) | set(notices)) - set(dirt.removed)
        named = {uid for uid in named if not guests.is_guest(uid)}
        out = {uid for uid in named if uid not in render.roles}
        for user in accounts.by_ids(db, list(out)).values():
            html = room_render.membership(db, space, user, notices.get(user["id"], ()))
            close[str(user["id"])] = [LEFT, "left", html]
        users: dict[str, str] = {}
        controls = accounts.by_ids(db, list(set(dirt.users) - out))
        for uid in named - out:
            if render.roles.get(uid) != "listener":
                continue  # speakers and the host are on the core; a promoted one is moved there
            users[str(uid)] = render.fragments(
                uid, dirt.sections, controls=controls.get(uid), notices=notices.get(uid, ())
            )
        shared = None
        if dirt.sections:
            listed = render.listed(dirt.sections)
            for uid in listed:
                if render.roles.get(uid) == "listener" and str(uid) not in users:
                    users[str(uid)] = render.fragments(uid, dirt.sections)  # their own item
            plain = next(
                (u for u, role in render.roles.items() if role == "listener" and u not in listed),
                None,
            )
            if plain is not None:  # the listener kind's frame, the same for all of them
                shared = render.fragments(plain, dirt.sections)
        if shared or users or close:
            message = {"shared": shared, "users": users, "close": close}
            self.publisher.publish(space["id"], message)

    def to_person(self, db, user_id: int, html: str) -> None:
        """A frame for one person's room pages wherever they are (the navigation's counts,
        site_feed.py): published to the Spaces they are in that edges have pages of."""
        rows = db.execute(
            "SELECT space_id FROM participants WHERE user_id = ? AND present = 1", [user_id]
        ).fetchall()
        for (space_id,) in rows:
            if self.wants(space_id):
                self.publisher.publish(space_id, {"users": {str(user_id): html}})

    def captions(self, space_id: int, html: str) -> None:
        if self.wants(space_id):
            self.publisher.publish(space_id, {"captions": html})

    def set_captions(self, space_id: int, user_id: int, on: bool) -> None:
        if self.wants(space_id):
            self.publisher.publish(space_id, {"captions_on": {str(user_id): on}})

    def reaction(self, space_id: int, message: dict, sender: int | None) -> None:
        """A reaction's or a raised hand's JSON message, to every page (the sender's marked)."""
        if not self.wants(space_id):
            return
        users = {}
        if sender is not None:
            users[str(sender)] = json.dumps({**message, "mine": True})
        self.publisher.publish(space_id, {"shared": json.dumps(message), "users": users})

    # From the edges ----------------------------------------------------------------------------

    def answer(self, request: dict) -> dict | None:
        space_id, user_id = int(request["space_id"]), int(request["user_id"])
        if user_id <= 0:  # guests get no grant
            return None
        if request.get("type") == "full":
            return {"id": request["id"], **self.full_state(space_id, user_id)}
        if request.get("type") == "message":
            self.message(space_id, user_id, str(request.get("message", "")))
        return None

    def full_state(self, space_id: int, user_id: int) -> dict:
        """That person's full state, as the hub gives its own sockets; a listener made speaker
        meanwhile is sent to the core (RESTART: the page asks its address again)."""
        conn = Connection(0, space_id, user_id, KeptOutbox())
        self.hub.full_state(conn)
        kept: KeptOutbox = conn.outbox
        if kept.closed is None:
            with self.hub.render_context() as db:
                who = rooms.actor(db, rooms.get(db, space_id), accounts.get(db, user_id))
            if who.role != "listener":
                kept.pushed, kept.closed = [], (RESTART, "moved to the core")
        return {
            "frames": kept.pushed,
            "close": list(kept.closed) if kept.closed else None,
            "captions_on": conn.captions_on,
            "may_view_captions": conn.may_view_captions,
        }

    def message(self, space_id: int, user_id: int, message: str) -> None:
        """A message from a page on an edge (the edge kept the rate limit): applied as the core's
        live socket applies its own (views/live_socket.py, handle_message)."""
        data = page_message(message)
        if data is None:
            return
        conn = Connection(0, space_id, user_id, EdgeOutbox(self.publisher, space_id, user_id))
        if data.get("type") == "visibility" and data.get("visible") is True:
            # Shown again (the edge only says so then): the recent captions, if they are on
            with self.hub.render_context() as db:
                user = accounts.get(db, user_id)
                if user is None or not user["view_captions"]:
                    return
                space = rooms.get(db, space_id)
                if policy.can(rooms.actor(db, space, user), "view_captions", space):
                    self.hub.push_captions_section(conn)
        elif data.get("type") in reactions_relay.MESSAGES:
            with self.hub.render_context() as db:
                reactions_relay.receive(db, self.hub, self.board, self.broker, conn, data)


def _html(data: bytes) -> str:
    """The text a pushed websocket frame carries (outbox.frame: header, then the payload)."""
    length = data[1] & 0x7F
    start = 2 if length < 126 else 4 if length == 126 else 10
    return data[start:].decode()
