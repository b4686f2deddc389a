"""The live hub: which sockets are open in which Space, and what each must be shown.

Room events only mark sections dirty; a flusher thread renders each dirty section a few times
(see room_render.RoomRender), builds each websocket frame once per kind of viewer, and pushes it
through every connection's non-blocking outbox. It also runs presence: a person whose last socket
closed is removed after a grace period unless they reconnect, or have a socket open on another
node (presence.py).

Every socket belongs to someone in the Space, or to a guest listening to it (guests.py): a guest's
sockets carry minus the guest's number where an account's carry its user id, are counted (the
room's "N guests") but have no presence row, and are closed when the host turns guests off.
The hub admits a socket only under the caps per account and per address, and closes it
(close_codes.py) when its person turns out not to be in the Space, at the first full state or at
the first change after they left, were removed or blocked, or the Space ended. Captions reach
only the sockets whose person `policy.can` view them.
"""

import contextlib
import itertools
import logging
import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from flask import Flask, g

from .. import accounts, guest_room, guests, policy, room_render, rooms
from ..clock import now
from ..errors import DomainError
from ..events import LISTED, NOTIFIED, Broker, RoomEvent
from ..presence import LocalPresence, Presence
from .close_codes import ENDED, GUESTS_OFF, LEFT, REMOVED, RESTART
from .outbox import Outbox, frame
from .socket_caps import SocketCaps

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.1  # seconds between renders of one room; bounds work under churn
RESYNC_CLOSE = 1013  # "try again later": the htmx ws extension reconnects and gets a full state


@dataclass(eq=False)
class Connection:
    id: int
    space_id: int
    user_id: int  # the account; for a guest, guests.connection_id (negative)
    outbox: Outbox
    kind: str = "live"  # "live": the room page's socket; "audio": holds presence only
    address: str = ""  # the client's address, for the cap per address
    visible: bool = True  # the room page is showing (not a hidden tab, not docked)
    captions_on: bool = False  # the person turned `View captions` on
    may_view_captions: bool = False  # policy.can(..., "view_captions"), as of the last change

    @property
    def open(self) -> bool:
        return not self.outbox.dead

    @property
    def guest(self) -> bool:
        return guests.is_guest(self.user_id)

    @property
    def account(self) -> tuple[int, int, str]:
        return (self.space_id, self.user_id, self.kind)


@dataclass
class RoomDirt:
    sections: set = field(default_factory=set)
    users: set = field(default_factory=set)
    notices: list = field(default_factory=list)
    removed: set = field(default_factory=set)
    ended: bool = False


class LiveHub:
    def __init__(self, app: Flask, broker: Broker, presence: Presence | None = None) -> None:
        self.app = app
        self.broker = broker
        self.presence = presence or LocalPresence()
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.rooms: dict[int, dict[int, Connection]] = defaultdict(dict)
        self.dirty: dict[int, RoomDirt] = {}
        self.last_seen: dict[tuple[int, int], float] = {}
        self._ids = itertools.count(1)
        self.grace = app.config["PRESENCE_GRACE_SECONDS"]
        self.host_away = app.config["HOST_AWAY_MINUTES"] * 60
        self.listeners_shown = app.config["LISTENERS_SHOWN"]
        # With rate limits off (tests and benches: thousands of clients on 127.0.0.1) the cap per
        # address is off too; the cap per account stays.
        limits_on = app.config["RATELIMIT_ENABLED"]
        self.caps = SocketCaps(
            app.config["SOCKETS_PER_ACCOUNT"], app.config["SOCKETS_PER_ADDRESS"] if limits_on else 0
        )
        self._thread: threading.Thread | None = None
        self._stopping = False
        # Listeners' room pages on edge nodes (spaces/edge/live_bridge.py; REDIS_URL set)
        self.edges = None
        # Reactions' and hands' JSON messages to every node's pages (reactions_relay.py)
        self.shouts: Broker | None = None
        self.closed_with: int | None = None  # the server is stopping: close_all's code
        broker.subscribe(self.on_event)

    # Events ------------------------------------------------------------------------------------

    def on_event(self, event: RoomEvent) -> None:
        if event.kind in (LISTED, NOTIFIED):  # not about a room's page: see site_feed.py
            return
        gone = event.removed | event.left
        everyone = event.kind == "ended"
        with self.wake:
            dirt = self.dirty.setdefault(event.space_id, RoomDirt())
            dirt.sections |= set(event.sections) - {"ended"}
            dirt.users |= set(event.users)
            dirt.notices.extend(event.notices)
            dirt.removed |= set(event.removed)
            dirt.ended = dirt.ended or event.kind == "ended"
            # No caption from now on for people who are out, before the flush closes their
            # sockets (a person back by then gets captions again from the flush).
            if gone or everyone:
                for conn in self.rooms.get(event.space_id, {}).values():
                    if everyone or conn.user_id in gone:
                        conn.may_view_captions = False
            self.wake.notify()

    # Connections -------------------------------------------------------------------------------

    def admit(
        self, space_id: int, user_id: int, outbox: Outbox, kind: str = "live", address: str = ""
    ) -> Connection | None:
        """Registers a socket (a room page's, or an audio socket, which holds presence for a
        docked listener); None when its account already has SOCKETS_PER_ACCOUNT of this kind
        open in this Space, or its address SOCKETS_PER_ADDRESS in all (each socket is a thread).
        Once the server is stopping (`close_all`), a socket it admits is closed at once, with the
        same code as the others: the client comes back to the next server."""
        conn = Connection(next(self._ids), space_id, user_id, outbox, kind, address)
        with self.lock:
            if not self.caps.admit(conn):
                return None
            self.rooms[space_id][conn.id] = conn
            self.last_seen.pop((space_id, user_id), None)
            self.presence.hold(space_id, user_id)  # a guest's too: other nodes count them
            if conn.guest:
                self._guests_changed(space_id)
            closing = self.closed_with
        if closing is not None:
            outbox.close(closing, "restart")
        return conn

    def disconnect(self, conn: Connection) -> None:
        with self.lock:
            self.caps.release(conn)
            room = self.rooms.get(conn.space_id, {})
            popped = room.pop(conn.id, None) is not None
            if popped:
                self.presence.release(conn.space_id, conn.user_id)
            if conn.guest:  # nobody to make leave: only the count changes
                self._guests_changed(conn.space_id)
            else:
                if not any(c.user_id == conn.user_id for c in room.values()):
                    self.last_seen[(conn.space_id, conn.user_id)] = now()
            if not room:
                self.rooms.pop(conn.space_id, None)

    # Guests ------------------------------------------------------------------------------------

    def _guests_changed(self, space_id: int) -> None:
        """Under the lock: the room's guest count is pushed with the next flush."""
        self.dirty.setdefault(space_id, RoomDirt()).sections.add("listeners")
        self.wake.notify()

    def guest_count(self, space_id: int) -> int:
        """Guests with a socket open in the Space (one guest's tabs count once), here and on
        other nodes (REDIS_URL)."""
        with self.lock:
            room = list(self.rooms.get(space_id, {}).values())
        here = {c.user_id for c in room if c.guest and c.open}
        return len(here | {u for u in self.presence.others(space_id) if guests.is_guest(u)})

    def guest_sockets(self, space_id: int, user_id: int | None = None) -> list[Connection]:
        """Guests' sockets of both kinds (or one guest's)."""
        with self.lock:
            room = list(self.rooms.get(space_id, {}).values())
        return [c for c in room if c.guest and (user_id is None or c.user_id == user_id)]

    def close_guest(self, space_id: int, user_id: int) -> None:
        """A guest's `Leave`: their sockets close as an account's do when it leaves."""
        for conn in self.guest_sockets(space_id, user_id):
            conn.outbox.close(LEFT, "left")

    def _guest_full_state(self, db, space: dict, conn: Connection) -> None:
        who = guests.actor(listening=True)
        if not policy.can(who, "view", space):  # the host turned guests off
            _replace_room([conn], guest_room.turned_off(space), GUESTS_OFF, "guests off")
            return
        conn.may_view_captions = policy.can(who, "view_captions", space)
        render = room_render.RoomRender(db, space, self.listeners_shown)
        captions = guest_room.captions(db, space, conn.captions_on, oob=True)
        conn.outbox.push(frame(render.fragments(None) + str(captions)))

    def _flush_guests(self, db, space: dict, render, sections: set) -> None:
        """Guests' pages get the sections as any guest sees them, one frame for all; if the host
        turned guests off, every guest socket (audio too) is told so and closed."""
        conns = self.guest_sockets(space["id"])
        who = guests.actor(listening=True)
        if not policy.can(who, "view", space):
            live = [c for c in conns if c.kind == "live"]
            _replace_room(live, guest_room.turned_off(space), GUESTS_OFF, "guests off")
            for conn in conns:
                conn.outbox.close(GUESTS_OFF, "guests off")
            return
        may_view_captions = policy.can(who, "view_captions", space)
        shared = frame(render.fragments(None, sections)) if sections else None
        for conn in conns:
            if conn.kind == "live":
                conn.may_view_captions = may_view_captions
                if shared is not None:
                    conn.outbox.push(shared)

    def set_visible(self, conn: Connection, visible: bool) -> None:
        """Captions go only to visible room pages; a page shown again gets the recent ones."""
        was = conn.visible
        conn.visible = visible
        if visible and not was and conn.captions_on:
            self.push_captions_section(conn)

    def set_captions(self, space_id: int, user_id: int, on: bool) -> None:
        for conn in self.connections(space_id, user_id):
            conn.captions_on = on
        if self.edges is not None:
            self.edges.set_captions(space_id, user_id, on)

    def caption_viewers(self, space_id: int) -> list[Connection]:
        """Room pages that get captions: visible, turned on, and allowed to (in the Space)."""
        return [
            c
            for c in self.connections(space_id)
            if c.captions_on and c.visible and c.may_view_captions
        ]

    def push_captions_section(self, conn: Connection) -> None:
        with self.render_context() as db:
            space = rooms.get(db, conn.space_id)
            if conn.guest:
                html = guest_room.captions(db, space, conn.captions_on, oob=True)
            else:
                html = room_render.captions_section(db, space, conn.user_id, oob=True)
        conn.outbox.push(frame(html))

    def note_join(self, space_id: int, user_id: int) -> None:
        """Someone joined by HTTP; they must open the room's socket within the grace period."""
        with self.lock:
            if not any(c.user_id == user_id for c in self.rooms.get(space_id, {}).values()):
                self.last_seen[(space_id, user_id)] = now()

    def connections(self, space_id: int, user_id: int | None = None) -> list[Connection]:
        with self.lock:
            conns = list(self.rooms.get(space_id, {}).values())
        return [c for c in conns if c.kind == "live" and (user_id is None or c.user_id == user_id)]

    def pages_of(self, user_id: int) -> list[Connection]:
        """Every room page the person has open, in any Space (their navigation count rides it)."""
        with self.lock:
            conns = [c for room in self.rooms.values() for c in room.values()]
        return [c for c in conns if c.kind == "live" and c.user_id == user_id]

    @contextlib.contextmanager
    def render_context(self):
        """A request context for templates (url_for), marked as shared: no per-session token."""
        with self.app.test_request_context("/"):
            g.shared_render = True
            yield self.app.extensions["spaces_db"].get()

    def full_state(self, conn: Connection) -> None:
        """Everything a (re)connected page needs, rendered for that person; or, for someone not
        in the Space, what they are told instead, and the socket closed.

        Read after the connection was registered: a change published between the handshake's
        checks and now either shows here or finds this connection at the next flush."""
        with self.render_context() as db:
            try:
                space = rooms.get(db, conn.space_id)
            except DomainError:
                conn.outbox.close(1000)
                return
            if space["ended_at"] is not None:
                _replace_room([conn], room_render.ended(space), ENDED, "ended")
                return
            if conn.guest:
                self._guest_full_state(db, space, conn)
                return
            user = accounts.get(db, conn.user_id)
            who = rooms.actor(db, space, user)
            if not policy.can(who, "view", space):  # removed, or blocked by the host
                html = room_render.removed(space, blocked=not who.removed)
                _replace_room([conn], html, REMOVED, "removed")
                return
            if not who.present:  # a page left open while its person left (or was let go)
                html = room_render.membership(db, space, user, ("You are not in this Space.",))
                _close_left([conn], html)
                return
            conn.captions_on = bool(user["view_captions"])
            conn.may_view_captions = policy.can(who, "view_captions", space)
            render = room_render.RoomRender(db, space, self.listeners_shown)
            conn.outbox.push(frame(render.fragments(conn.user_id, controls=user, captions=True)))

    # Flushing ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="live-hub")
        self._thread.start()

    def stop(self) -> None:
        with self.wake:
            self._stopping = True
            self.wake.notify()

    def _run(self) -> None:
        with self.app.app_context():
            self._adopt_present_participants()
        next_reap = now() + 1
        while not self._stopping:
            with self.wake:
                if not self.dirty:
                    self.wake.wait(timeout=1.0)
            try:
                self.flush()
                if now() >= next_reap:
                    self.reap()
                    self.end_abandoned()
                    next_reap = now() + 1
            except Exception:
                log.exception("live hub flush failed")
            threading.Event().wait(FLUSH_INTERVAL)

    def _adopt_present_participants(self) -> None:
        """After a restart, everyone the database says is present gets a grace period to return."""
        db = self.app.extensions["spaces_db"].get()
        t = now()
        rows = db.execute(
            "SELECT p.space_id, p.user_id FROM participants p JOIN spaces s ON s.id = p.space_id"
            " WHERE p.present = 1 AND s.ended_at IS NULL"
        )
        with self.lock:
            for space_id, user_id in rows:
                self.last_seen.setdefault((space_id, user_id), t)

    def flush(self) -> None:
        with self.lock:
            dirty, self.dirty = self.dirty, {}
        if not dirty:
            return
        with self.render_context() as db:
            for space_id, dirt in dirty.items():
                self._flush_room(db, space_id, dirt)

    def _flush_room(self, db, space_id: int, dirt: RoomDirt) -> None:
        conns = self.connections(space_id)
        edges = self.edges if self.edges is not None and self.edges.wants(space_id) else None
        if not conns and not self.guest_sockets(space_id) and edges is None:
            return
        space = rooms.get(db, space_id)
        if dirt.ended or space["ended_at"] is not None:
            _replace_room(conns, room_render.ended(space), ENDED, "ended")
            if edges is not None:
                edges.ended(space)
            return
        has_guests = bool(self.guest_sockets(space_id))
        conns = [c for c in conns if not c.guest]
        removed = [c for c in conns if c.user_id in dirt.removed]
        if removed:
            _replace_room(removed, room_render.removed(space), REMOVED, "removed")
        conns = [c for c in conns if c.user_id not in dirt.removed]
        render = room_render.RoomRender(db, space, self.listeners_shown)
        if has_guests:
            self._flush_guests(db, space, render, dirt.sections)
        notices = defaultdict(list)
        for user_id, text in dirt.notices:
            notices[user_id].append(text)
        # Whoever is not in the Space now is told why and closed: removed or blocked (when this
        # flush is another change's and theirs is yet to come: the database already says so), or
        # out (they left, logged out...). The rest may view captions again if they are back.
        out = {c.user_id for c in conns if c.user_id not in render.roles}
        for user in accounts.by_ids(db, list(out)).values():
            theirs = [c for c in conns if c.user_id == user["id"]]
            who = rooms.actor(db, space, user)
            if not policy.can(who, "view", space):
                _replace_room(theirs, room_render.removed(space), REMOVED, "removed")
                continue
            html = room_render.membership(db, space, user, notices.get(user["id"], ()))
            _close_left(theirs, html)
        conns = [c for c in conns if c.user_id not in out]
        if edges is not None:
            edges.flush(db, space, dirt, render, notices)
        for conn in conns:
            conn.may_view_captions = policy.can(render.viewer(conn.user_id), "view_captions", space)
        users = accounts.by_ids(db, list(dirt.users - out))
        shared: dict[tuple, bytes] = {}
        for conn in conns:
            uid = conn.user_id
            if uid in users or uid in notices:  # their own controls or notices: their own frame
                html = render.fragments(
                    uid, dirt.sections, controls=users.get(uid), notices=notices.get(uid, ())
                )
                conn.outbox.push(frame(html))
            elif dirt.sections:
                kind = render.viewer_kind(uid, dirt.sections)
                if kind not in shared:
                    shared[kind] = frame(render.fragments(uid, dirt.sections))
                conn.outbox.push(shared[kind])

    def reap(self) -> None:
        """Removes people whose sockets have been gone longer than the grace period."""
        cutoff = now() - self.grace
        with self.lock:
            expired = [key for key, seen in self.last_seen.items() if seen <= cutoff]
            for key in expired:
                del self.last_seen[key]
        # A socket of theirs on another node keeps them; asked again after another grace period
        # (that node's hub takes over when the socket closes, but the node may die first).
        elsewhere = self.presence.elsewhere(expired) if expired else set()
        if elsewhere:
            self._retry_later(list(elsewhere), now())
            expired = [key for key in expired if key not in elsewhere]
        if not expired:
            return
        with self.app.app_context():
            db = self.app.extensions["spaces_db"].get()
            for i, (space_id, user_id) in enumerate(expired):
                try:
                    event = rooms.leave(db, space_id, user_id)
                except sqlite3.OperationalError as exc:
                    # The database stayed locked (another process): these people are tried again
                    # at the next reap, unless they came back meanwhile. (Dropping them here kept
                    # them present for good.) One wait per reap, so pushes are not held up long.
                    log.warning("presence: leaving deferred, the database is locked (%s)", exc)
                    self._retry_later(expired[i:], cutoff)
                    return
                if event is not None:
                    self.broker.publish(event)

    def end_abandoned(self) -> None:
        """Ends the Spaces whose host has been away longer than HOST_AWAY_MINUTES."""
        if self.host_away <= 0:
            return
        with self.app.app_context():
            db = self.app.extensions["spaces_db"].get()
            try:
                for space_id in rooms.abandoned(db, self.host_away):
                    with contextlib.suppress(DomainError):  # ended meanwhile
                        self.broker.publish(rooms.end(db, space_id, None, reason="host_away"))
                        log.info("space %d ended: the host was away", space_id)
            except sqlite3.OperationalError as exc:  # locked by another process: next second
                log.warning("ending abandoned Spaces deferred: %s", exc)

    def _retry_later(self, keys: list[tuple[int, int]], seen: float) -> None:
        with self.lock:
            for space_id, user_id in keys:
                room = self.rooms.get(space_id, {})
                if not any(c.user_id == user_id for c in room.values()):
                    self.last_seen.setdefault((space_id, user_id), seen)

    def resync(self) -> None:
        """Every open room re-rendered in full, with everyone's controls: after room events may
        have been missed (the broker lost Redis for a while, or subscribed after pages opened)."""
        with self.wake:
            for space_id, room in self.rooms.items():
                dirt = self.dirty.setdefault(space_id, RoomDirt())
                dirt.sections |= set(room_render.SECTION_TEMPLATES)
                dirt.users |= {c.user_id for c in room.values()}
            self.wake.notify()

    def close_all(self, code: int = RESTART) -> None:
        """On shutdown: 1012 (service restart) makes browsers reconnect. Sockets admitted after
        this (their requests were under way) are closed as they come."""
        with self.lock:
            self.closed_with = code
            conns = [c for room in self.rooms.values() for c in room.values() if c.kind == "live"]
        for conn in conns:
            conn.outbox.close(code, "restart")


def _replace_room(conns: list[Connection], html: str, code: int, reason: str) -> None:
    """Pushes what takes the room's place (it ended, they were removed), then closes."""
    data = frame(html)
    for conn in conns:
        conn.outbox.push(data)
        conn.outbox.close(code, reason)


def _close_left(conns: list[Connection], html: str) -> None:
    """For someone not in the Space: their page as a visitor's (`Join this Space`, no captions,
    no live socket), then the socket closes; joining again opens a new one."""
    _replace_room(conns, html, LEFT, "left")
