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
and again after Redis returns, is asked of the core and awaited; a page's messages go to the core
(pages.py).
"""

import json
import logging
import threading
import time
from collections import defaultdict

import redis

from ..grants import GRANT_SECONDS, Grant
from ..presence import RedisPresence
from ..realtime.outbox import Outbox
from ..realtime.socket_caps import SocketCaps
from .listener import EdgeListener
from .live_channel import LIVE, live_channel, reply_channel
from .mix_channel import (
    VERDICTS,
    WANTED_EVERY,
    WANTED_TTL,
    channel_room,
    mix_channel,
    wanted_key,
)
from .pages import EdgePages

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0


class EdgeNode(EdgePages):
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
        self._init_pages()
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
            with self.lock:
                self._channels = set()
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
                        if message["type"] in ("subscribe", "unsubscribe"):
                            self._note_channel(message["type"], message["channel"])
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
        for listener in doomed:
            if listener.codec == LIVE:
                self._close_page_later(listener, code, reason)
            else:
                listener.outbox.close(code, reason)


def room_channel(space_id: int, codec: str) -> str:
    """What an edge subscribes to for its sockets of one Space and codec (LIVE: room pages)."""
    return live_channel(space_id) if codec == LIVE else mix_channel(space_id, codec)
