"""The site feed: live updates for pages outside a room.

It pushes three things, all as out-of-band HTML fragments:
- the `Notifications` link in the navigation, with its unread count, to every page socket the
  person has open: the Explore page's, a scheduled Space page's (sockets here) and a room page's
  (the live hub's; the count rides the socket the room already has);
- the Explore page's lists, when a Space is scheduled, starts, ends or its listeners change;
- a scheduled Space's page, when the Space starts or is cancelled.

Events only mark what is dirty; a thread of its own renders at most every FLUSH_INTERVAL, so a
burst of joins re-renders the lists once. Pages elsewhere learn the count from one small request
when they are shown again (static/notifications.js); nothing polls every second.
"""

import logging
import threading
from dataclasses import dataclass

from flask import Flask, render_template

from .. import blocks, explore, notifications, rooms
from ..errors import DomainError
from ..events import LISTED, Broker, RoomEvent
from .outbox import Outbox, frame

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.3  # seconds: a new live Space reaches Explore well within a second
LIST_SECTIONS = {"meta", "stage", "listeners"}  # room changes Explore shows (title, who, count)


@dataclass(eq=False)
class Watcher:
    user_id: int
    outbox: Outbox
    page: str  # "explore", or "space" (a scheduled Space's page)
    space_id: int = 0
    address: str = ""


class SiteFeed:
    def __init__(self, app: Flask, broker: Broker, hub) -> None:
        self.app = app
        self.hub = hub
        self.per_account = app.config["SOCKETS_PER_ACCOUNT"]
        # As the hub's caps: per address only with rate limits on (tests share 127.0.0.1).
        limits_on = app.config["RATELIMIT_ENABLED"]
        self.per_address = app.config["SOCKETS_PER_ADDRESS"] if limits_on else 0
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.watchers: set[Watcher] = set()
        self.lists_dirty = False
        self.spaces_dirty: set[int] = set()
        self.users_dirty: set[int] = set()
        self._stopping = False
        broker.subscribe(self.on_event)

    def on_event(self, event: RoomEvent) -> None:
        users = event.extra.get("notified", ())
        listing = event.kind in (LISTED, "ended") or bool(LIST_SECTIONS & event.sections)
        if not users and not listing:
            return
        with self.wake:
            self.users_dirty |= set(users)
            if listing:
                self.lists_dirty = True
                self.spaces_dirty.add(event.space_id)
            self.wake.notify()

    def admit(
        self, user_id: int, outbox: Outbox, page: str, space_id: int = 0, address: str = ""
    ) -> Watcher | None:
        """None when the person already has SOCKETS_PER_ACCOUNT such pages open, or their address
        SOCKETS_PER_ADDRESS (each socket holds a server thread)."""
        with self.lock:
            mine = sum(1 for w in self.watchers if w.user_id == user_id)
            if self.per_account and mine >= self.per_account:
                return None
            here = sum(1 for w in self.watchers if address and w.address == address)
            if self.per_address and here >= self.per_address:
                return None
            watcher = Watcher(user_id, outbox, page, space_id, address)
            self.watchers.add(watcher)
        return watcher

    def leave(self, watcher: Watcher) -> None:
        with self.lock:
            self.watchers.discard(watcher)

    def full_state(self, watcher: Watcher) -> None:
        """What a (re)connected page needs: its count, and its lists or its Space's state."""
        with self.hub.render_context() as db:
            html = self._count(db, watcher.user_id)
            if watcher.page == "explore":
                html += self._lists(db, watcher.user_id)
            else:
                html += self._space(db, watcher.space_id) or ""
        watcher.outbox.push(frame(html))

    # Flushing ----------------------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="site-feed").start()

    def stop(self) -> None:
        with self.wake:
            self._stopping = True
            self.wake.notify()

    def _run(self) -> None:
        while not self._stopping:
            with self.wake:
                if not (self.lists_dirty or self.users_dirty):
                    self.wake.wait(timeout=5.0)
            try:
                self.flush()
            except Exception:
                log.exception("site feed flush failed")
            threading.Event().wait(FLUSH_INTERVAL)

    def flush(self) -> None:
        with self.lock:
            lists, spaces, users = self.lists_dirty, self.spaces_dirty, self.users_dirty
            self.lists_dirty, self.spaces_dirty, self.users_dirty = False, set(), set()
            watchers = list(self.watchers)
        if not (lists or users):
            return
        with self.hub.render_context() as db:
            for user_id in users:
                count = self._count(db, user_id)
                data = frame(count)
                for w in watchers:
                    if w.user_id == user_id:
                        w.outbox.push(data)
                for conn in self.hub.pages_of(user_id):
                    conn.outbox.push(data)
                if self.hub.edges is not None:  # their room page may be on an edge
                    self.hub.edges.to_person(db, user_id, count)
            if lists:
                self._push_lists(db, [w for w in watchers if w.page == "explore"])
                for space_id in spaces:
                    html = self._space(db, space_id)
                    targets = [w for w in watchers if w.page == "space" and w.space_id == space_id]
                    if html and targets:
                        data = frame(html)
                        for w in targets:
                            w.outbox.push(data)

    def _push_lists(self, db, watchers: list[Watcher]) -> None:
        """One render for everyone who blocks nobody and is blocked by nobody; the others get
        their own (blocked hosts are hidden from them)."""
        shared: bytes | None = None
        for w in watchers:
            if blocks.involved(db, w.user_id):
                w.outbox.push(frame(self._lists(db, w.user_id)))
                continue
            if shared is None:
                shared = frame(self._lists(db, w.user_id))
            w.outbox.push(shared)

    # Rendering ---------------------------------------------------------------------------------

    def _count(self, db, user_id: int) -> str:
        return render_template(
            "_nav_notifications.html",
            notification_count=notifications.unread_count(db, user_id),
            oob=True,
        )

    def _lists(self, db, user_id: int) -> str:
        return render_template("_explore_lists.html", **explore.page(db, user_id), oob=True)

    def _space(self, db, space_id: int) -> str | None:
        """A scheduled Space's status once it started or was cancelled; None while it waits."""
        try:
            space = rooms.get(db, space_id)
        except DomainError:
            return None
        if space["scheduled_for"] is not None and space["ended_at"] is None:
            return None
        return render_template("rooms/_scheduled.html", space=space, oob=True)
