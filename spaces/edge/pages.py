"""An edge's room pages (live sockets): what the core's hub publishes, written to them; their
full state asked of the core; their messages forwarded to it (live_channel.py has the wire).

A base of EdgeNode, kept apart for reading: it uses the node's Redis client, name, lock (with
`_answered`, a Condition on it), `rooms` and Redis thread, which calls `_deliver_pages`,
`_answer`, `_note_channel` and `_close_pages_due`.
"""

import itertools
import json
import logging
import threading
import time

import redis

from ..realtime.close_codes import RESTART
from ..realtime.message_rate import page_message
from ..realtime.outbox import frame
from .listener import EdgeListener
from .live_channel import LIVE, LIVE_REQUESTS, live_channel
from .mix_channel import WANTED_TTL, wanted_key

log = logging.getLogger(__name__)

RESYNC_CLOSE = 1013  # as the hub's: the page reconnects and gets a full state
FULL_STATE_WAIT = 5.0  # seconds an edge waits for the core's full state before giving up
PAGE_CLOSE_AFTER = 0.7  # a verdict closes a room page after this, if the core's page did not


class EdgePages:
    client: redis.Redis
    node: str
    lock: threading.Lock
    rooms: dict

    def _init_pages(self) -> None:
        self._answers: dict[int, dict | None] = {}  # full states asked for, by request id
        self._answered = threading.Condition(self.lock)
        self._channels: set[bytes] = set()  # what the Redis thread is subscribed to now
        self._requests = itertools.count(1)
        self._page_closes: list[tuple[float, EdgeListener, int, str]] = []
        self._resync = threading.Event()

    def _close_page_later(self, page: EdgeListener, code: int, reason: str) -> None:
        """A verdict for a room page: the core's page (removed, left, ended) comes with the hub's
        next flush, a tenth of a second on, as on the core; the verdict closes it if that is
        lost. A listener made speaker is closed at once (RESTART: their page goes to the core)."""
        page.may_view_captions = False
        if code == RESTART:
            page.outbox.close(code, reason)
            return
        with self.lock:
            self._page_closes.append((time.monotonic() + PAGE_CLOSE_AFTER, page, code, reason))

    def _note_channel(self, kind: str, channel: bytes) -> None:
        with self._answered:
            if kind == "subscribe":
                self._channels.add(channel)
            else:
                self._channels.discard(channel)
            self._answered.notify_all()

    def _close_pages_due(self) -> None:
        if not self._page_closes:
            return
        t = time.monotonic()
        with self.lock:
            due = [entry for entry in self._page_closes if entry[0] <= t]
            self._page_closes = [entry for entry in self._page_closes if entry[0] > t]
        for _when, listener, code, reason in due:
            listener.outbox.close(code, reason)

    def pages(self, space_id: int) -> list[EdgeListener]:
        with self.lock:
            return list(self.rooms.get((space_id, LIVE), ()))

    def _deliver_pages(self, space_id: int, data: bytes) -> None:
        """One flush of the core's hub (or captions, a reaction...), to this edge's room pages
        of the Space: live_channel.py has the message's fields."""
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("edge: dropped a page message that is not JSON")
            return
        pages = self.pages(space_id)
        end = message.get("end")
        if end:
            data = frame(end[2])
            for page in pages:
                page.outbox.push(data)
                page.outbox.close(end[0], end[1])
            return
        for uid, on in (message.get("captions_on") or {}).items():
            for page in pages:
                if str(page.user_id) == uid:
                    page.captions_on = bool(on)
        if message.get("captions"):
            data = frame(message["captions"])
            for page in pages:
                if page.visible and page.captions_on and page.may_view_captions:
                    page.outbox.push(data)
        close = message.get("close") or {}
        users = message.get("users") or {}
        frames = {uid: frame(html) for uid, html in users.items()}
        shared = frame(message["shared"]) if message.get("shared") else None
        for page in pages:
            uid = str(page.user_id)
            if uid in close:
                code, reason, html = close[uid]
                page.may_view_captions = False
                if html:
                    page.outbox.push(frame(html))
                page.outbox.close(code, reason)
            elif uid in frames:
                page.outbox.push(frames[uid])
            elif shared is not None:
                page.outbox.push(shared)

    def full_state(self, page: EdgeListener, wait: float = FULL_STATE_WAIT) -> bool:
        """Asks the core for this page's full state and pushes it (or what the core says takes
        the room's place, and the close); False when the core did not answer in time."""
        request_id = next(self._requests)
        request = {
            "type": "full",
            "id": request_id,
            "node": self.node,
            "space_id": page.space_id,
            "user_id": page.user_id,
        }
        # Subscribed to the Space's channel first: a change the core publishes after rendering
        # this full state must find this edge listening (waited for, for a moment at most).
        channel = live_channel(page.space_id).encode()
        with self._answered:
            self._answered.wait_for(lambda: channel in self._channels, timeout=1.0)
            self._answers[request_id] = None
        try:
            # Wanted at once (not at the next renewal): the core reads the wanted keys every
            # second and would drop this Space until then
            self.client.set(wanted_key(page.space_id, LIVE), self.node, ex=WANTED_TTL)
            self.client.publish(LIVE_REQUESTS, json.dumps(request))
        except redis.RedisError:
            with self.lock:
                del self._answers[request_id]
            return False
        deadline = time.monotonic() + wait
        with self._answered:
            while self._answers[request_id] is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    del self._answers[request_id]  # an answer after this is dropped
                    return False
                self._answered.wait(left)
            answer = self._answers.pop(request_id)
        page.captions_on = bool(answer.get("captions_on"))
        page.may_view_captions = bool(answer.get("may_view_captions"))
        for html in answer.get("frames") or ():
            page.outbox.push(frame(html))
        if answer.get("close"):
            page.outbox.close(*answer["close"])
        return True

    def _answer(self, data: bytes) -> None:
        try:
            answer = json.loads(data)
            request_id = int(answer["id"])
        except (ValueError, KeyError, TypeError):
            return
        with self._answered:
            if request_id in self._answers:  # still waited for
                self._answers[request_id] = answer
                self._answered.notify_all()

    def forward(self, page: EdgeListener, message: str) -> None:
        """A message from a room page, for the core (the caller kept the rate limit). Whether
        the page is showing is kept here too: the captions' filter runs on the edge."""
        data = page_message(message)
        if data is None:
            return
        if data.get("type") == "visibility" and isinstance(data.get("visible"), bool):
            shown_again = data["visible"] and not page.visible
            page.visible = data["visible"]
            if not (shown_again and page.captions_on):
                return  # the core only needs to hear that a page wants its recent captions
        request = {
            "type": "message",
            "node": self.node,
            "space_id": page.space_id,
            "user_id": page.user_id,
            "message": message,
        }
        try:
            self.client.publish(LIVE_REQUESTS, json.dumps(request))
        except redis.RedisError as exc:
            log.warning("edge: a page's message not forwarded, Redis did not answer: %s", exc)

    def _resync_pages(self) -> None:
        """After Redis came back: every room page here gets its full state again (changes may
        have been missed meanwhile)."""
        with self.lock:
            pages = [ln for (_s, codec), room in self.rooms.items() if codec == LIVE for ln in room]
        for page in pages:
            # The core may subscribe again a moment after this edge: asked a few times
            if page.open and not any(self.full_state(page, wait=2.0) for _ in range(3)):
                page.outbox.close(RESYNC_CLOSE, "try again later")
