"""An edge node's memory: its listeners by Space, what it hears from Redis, what it tells Redis.

One thread reads Redis: the mix channel of each Space and codec this edge has listeners of
(subscribed and unsubscribed as the first arrives and the last goes, by that thread alone, since
a redis-py PubSub is not thread-safe) and the core's verdicts. A mix message is written as it is
into the outbox of every listener of its Space and codec; a verdict closes the sockets it names
and is remembered for GRANT_SECONDS, so a grant issued before it cannot open a new socket.
Another thread keeps this edge's wanted keys alive (the core publishes only wanted rooms and
codecs); presence goes into Redis as on the core, so the core knows a listener whose only open
socket is here is still in the Space.

Room pages' live sockets are listeners of the "codec" LIVE, on the Space's page channel
(live_channel.py): each message is one flush of the core's hub, written to every page here as
the message says (the listener kind's frame, or a person's own). A page's full state, at connect
and again after Redis returns, is asked of the core and awaited; a page's messages go to the core.
"""

import itertools
import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import redis

from ..grants import GRANT_SECONDS, Grant
from ..presence import RedisPresence
from ..realtime.close_codes import RESTART
from ..realtime.outbox import Outbox, frame
from ..realtime.socket_caps import SocketCaps
from .live_channel import LIVE, LIVE_REQUESTS, live_channel, reply_channel
from .mix_channel import (
    VERDICTS,
    WANTED_EVERY,
    WANTED_TTL,
    channel_room,
    mix_channel,
    wanted_key,
)

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
RESYNC_CLOSE = 1013  # as the hub's: the page reconnects and gets a full state
FULL_STATE_WAIT = 5.0  # seconds an edge waits for the core's full state before giving up
PAGE_CLOSE_AFTER = 0.7  # a verdict closes a room page after this, if the core's page did not


@dataclass(eq=False)
class EdgeListener:
    space_id: int
    user_id: int
    outbox: Outbox
    address: str
    issued_at: float  # when the core signed the grant it came with
    codec: str = "pcm"  # "pcm" (v1) or "opus" (v2), as AudioConnection.codec on the core;
    # LIVE for a room page's live socket (spaces/edge/live_channel.py)
    account: tuple = ()
    open: bool = True
    frames: int = field(default=0)
    # A room page's (as the hub's Connection): captions go to visible pages that turned them on
    # and whose person may view them (the core's word, with the full state; verdicts take it back)
    visible: bool = True
    captions_on: bool = False
    may_view_captions: bool = False

    def __post_init__(self) -> None:
        self.account = (self.space_id, self.user_id, "live" if self.codec == LIVE else "audio")


class EdgeNode:
    def __init__(
        self, client: redis.Redis, node: str, presence: RedisPresence, caps: SocketCaps
    ) -> None:
        self.client = client
        self.node = node
        self.presence = presence
        self.caps = caps
        self.lock = threading.Lock()
        # (space, codec) -> its listeners here: what one mix channel's message goes to
        self.rooms: dict[tuple[int, str], set[EdgeListener]] = defaultdict(set)
        # (space, user or None for everyone) -> (code, reason, when: time.time())
        self.verdicts: dict[tuple[int, int | None], tuple[int, str, float]] = {}
        self.subscribed = threading.Event()
        self._answers: dict[int, dict | None] = {}  # full states asked for, by request id
        self._answered = threading.Condition(self.lock)
        self._ids = itertools.count(1)
        self._page_closes: list[tuple[float, EdgeListener, int, str]] = []
        self._resync = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = {"messages": 0, "verdicts": 0}

    # Listeners ---------------------------------------------------------------------------------

    def refusal(self, grant: Grant) -> tuple[int, str] | None:
        """A verdict newer than the grant (the person was removed, left, was promoted, or the
        Space ended after the core signed it): the close code and reason."""
        issued = grant.expires_at - GRANT_SECONDS
        with self.lock:
            for key in ((grant.space_id, None), (grant.space_id, grant.user_id)):
                verdict = self.verdicts.get(key)
                if verdict is not None and verdict[2] >= issued:
                    return verdict[0], verdict[1]
        return None

    def admit(
        self, grant: Grant, outbox: Outbox, address: str, codec: str = "pcm"
    ) -> EdgeListener | None:
        """Registers the socket; None when its account or address is at its cap."""
        issued = grant.expires_at - GRANT_SECONDS
        listener = EdgeListener(grant.space_id, grant.user_id, outbox, address, issued, codec)
        with self.lock:
            if not self.caps.admit(listener):
                return None
            self.rooms[(grant.space_id, codec)].add(listener)
        self.presence.hold(grant.space_id, grant.user_id)
        return listener

    def release(self, listener: EdgeListener) -> None:
        with self.lock:
            listener.open = False
            self.caps.release(listener)
            key = (listener.space_id, listener.codec)
            room = self.rooms.get(key)
            if room is not None:
                room.discard(listener)
                if not room:
                    del self.rooms[key]
        self.presence.release(listener.space_id, listener.user_id)

    def close_all(self, code: int, reason: str = "") -> None:
        with self.lock:
            listeners = [ln for room in self.rooms.values() for ln in room]
        for listener in listeners:
            listener.outbox.close(code, reason)

    def listeners(self) -> int:
        with self.lock:
            return sum(len(room) for room in self.rooms.values())

    def wanted(self) -> set[tuple[int, str]]:
        """The (Space, codec) pairs this edge has listeners of: the mix channels it needs."""
        with self.lock:
            return set(self.rooms)

    # Threads -----------------------------------------------------------------------------------

    def start(self) -> None:
        self.presence.start()
        for target, name in ((self._listen, "edge-redis"), (self._want, "edge-wanted")):
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self.presence.stop()
        for thread in self._threads:
            thread.join(5)

    def _want(self) -> None:
        """Keeps a wanted key alive for every Space and codec this edge has listeners of."""
        while not self._stopping.is_set():
            wanted = self.wanted()
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    for space_id, codec in wanted:
                        pipe.set(wanted_key(space_id, codec), self.node, ex=WANTED_TTL)
                    pipe.execute()
            except redis.RedisError as exc:
                log.warning("edge: wanted rooms not renewed, Redis did not answer: %s", exc)
            self._forget_old_verdicts()
            if self._resync.is_set():
                self._resync.clear()
                threading.Thread(target=self._resync_pages, daemon=True, name="edge-resync").start()
            self._stopping.wait(WANTED_EVERY)

    def _forget_old_verdicts(self) -> None:
        cutoff = time.time() - GRANT_SECONDS
        with self.lock:
            for key in [k for k, v in self.verdicts.items() if v[2] < cutoff]:
                del self.verdicts[key]

    def _listen(self) -> None:
        delay, verdicts_heard = BACKOFF_FIRST, False
        while not self._stopping.is_set():
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(VERDICTS, reply_channel(self.node))
                heard: set[tuple[int, str]] = set()
                while not self._stopping.is_set():
                    wanted = self.wanted()
                    if wanted - heard:
                        pubsub.subscribe(*[room_channel(*key) for key in wanted - heard])
                    if heard - wanted:
                        pubsub.unsubscribe(*[room_channel(*key) for key in heard - wanted])
                    heard = wanted
                    message = pubsub.get_message(timeout=0.05)
                    while message is not None:
                        if message["type"] == "subscribe":
                            if message["channel"] == VERDICTS.encode():
                                # subscribed again (redis-py's own reconnection, or ours after
                                # an error): Redis is back, and pages may have missed changes
                                if verdicts_heard:
                                    self._resync.set()
                                verdicts_heard = True
                            self.subscribed.set()
                            delay = BACKOFF_FIRST
                        elif message["type"] == "message":
                            self._deliver(message["channel"], message["data"])
                        message = pubsub.get_message(timeout=0)
                    self._close_pages_due()
            except redis.RedisError as exc:
                self.subscribed.clear()
                log.warning("edge: lost Redis (%s); trying again", exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            finally:
                pubsub.close()

    def _deliver(self, channel: bytes, data: bytes) -> None:
        self.stats["messages"] += 1
        if channel == VERDICTS.encode():
            self._judge(data)
            return
        if channel == reply_channel(self.node).encode():
            self._answer(data)
            return
        if channel.startswith(b"spaces:live:"):
            self._deliver_pages(int(channel.rsplit(b":", 1)[1]), data)
            return
        space_id, codec = channel_room(channel)
        with self.lock:
            listeners = list(self.rooms.get((space_id, codec), ()))
        for listener in listeners:
            listener.outbox.push(data)

    def _judge(self, data: bytes) -> None:
        try:
            verdict = json.loads(data)
            space_id, user_id = int(verdict["space_id"]), verdict["user_id"]
            code, reason = int(verdict["code"]), str(verdict["reason"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("edge: dropped a verdict that is not one (%s)", exc)
            return
        self.stats["verdicts"] += 1
        with self.lock:
            self.verdicts[(space_id, user_id)] = (code, reason, time.time())
            doomed = [
                ln
                for (space, _codec), room in self.rooms.items()
                if space == space_id
                for ln in room
                if user_id is None or ln.user_id == user_id
            ]
        due = time.monotonic() + PAGE_CLOSE_AFTER
        for listener in doomed:
            if listener.codec != LIVE or code == RESTART:
                listener.outbox.close(code, reason)
                continue
            # A room page gets the core's page first (removed, left, ended: the hub's flush, a
            # tenth of a second on), as on the core; the verdict closes it if that is lost.
            listener.may_view_captions = False
            with self.lock:
                self._page_closes.append((due, listener, code, reason))

    # Room pages ----------------------------------------------------------------------------------

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
        request_id = next(self._ids)
        request = {
            "type": "full",
            "id": request_id,
            "node": self.node,
            "space_id": page.space_id,
            "user_id": page.user_id,
        }
        with self.lock:
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
        try:
            data = json.loads(message)
        except ValueError:
            return
        if not isinstance(data, dict):
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


def room_channel(space_id: int, codec: str) -> str:
    """What an edge subscribes to for its sockets of one Space and codec (LIVE: room pages)."""
    return live_channel(space_id) if codec == LIVE else mix_channel(space_id, codec)
