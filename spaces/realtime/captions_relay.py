"""Captions between the audio relay, the caption worker, the database and the room pages.

The audio tick hands each consenting speaker's own frames to the worker (a separate process; a
full queue drops, it never waits). A poller thread takes the worker's partial and final captions,
stores finals, and pushes both to the room pages that want them: people who turned `View
captions` on and whose room page is visible (not a hidden tab, not docked).
"""

import logging
import threading
import time

from flask import Flask

from .. import accounts, captions_store, room_render
from ..events import RoomEvent
from .outbox import frame

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1
RECENT_FINALS = 20


class CaptionsRelay:
    def __init__(self, app: Flask, worker, hub, audio) -> None:
        self.app = app
        self.worker = worker
        self.hub = hub
        self.audio = audio
        self.partials: dict[int, dict[int, str]] = {}  # space -> user -> partial text
        self.names: dict[int, str] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False

    # From the audio tick (hot path: keep it a dictionary look-up and a queue put).
    def feed(self, space_id: int, user_id: int, pcm: bytes, offset: float) -> None:
        self.worker.feed((space_id, user_id), pcm, offset)

    def on_event(self, event: RoomEvent) -> None:
        """Someone left the stage, turned the mic off or withdrew consent: the audio relay has
        already stopped feeding them; end their stream so what they said is finalised now."""
        room = self.audio.rooms.get(event.space_id)
        captioned = (room.on_air & room.consent) if room is not None else set()
        for user_id in event.users | event.removed:
            if user_id not in captioned:
                self.worker.end_stream((event.space_id, user_id))
        if event.kind == "ended":
            self.partials.pop(event.space_id, None)

    def status(self) -> dict:
        counters = self.worker.counters()
        return {"available": counters.get("available", False), "error": counters.get("error")}

    def start(self) -> None:
        self.worker.start()
        self._thread = threading.Thread(target=self._run, daemon=True, name="captions-relay")
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.worker.stop()

    def _run(self) -> None:
        while not self._stopping:
            try:
                updates = self.worker.poll()
                if updates:
                    self._deliver(updates)
            except Exception:
                log.exception("caption delivery failed")
            time.sleep(POLL_SECONDS)

    def _name(self, db, user_id: int) -> str:
        if user_id not in self.names:
            user = accounts.get(db, user_id)
            self.names[user_id] = user["username"] if user else "someone"
        return self.names[user_id]

    def _deliver(self, updates) -> None:
        with self.hub.render_context() as db:
            finals: dict[int, list[dict]] = {}
            touched: set[int] = set()
            for (space_id, user_id), update in updates:
                touched.add(space_id)
                room = self.partials.setdefault(space_id, {})
                if update.kind == "final":
                    room.pop(user_id, None)
                    if not update.text.strip():
                        continue
                    captions_store.store_final(
                        db, space_id, user_id, update.start, update.end, update.text
                    )
                    finals.setdefault(space_id, []).append(
                        {"username": self._name(db, user_id), "text": update.text.strip()}
                    )
                else:
                    room[user_id] = update.text
            for space_id in touched:
                html = room_render.caption_lines(
                    finals=finals.get(space_id, []),
                    partials=[
                        {"username": self._name(db, uid), "text": text}
                        for uid, text in self.partials.get(space_id, {}).items()
                    ],
                )
                data = frame(html)
                for conn in self.hub.caption_viewers(space_id):
                    conn.outbox.push(data)
                if self.hub.edges is not None:  # listeners' pages on edges filter for themselves
                    self.hub.edges.captions(space_id, html)
