"""Room events between nodes over Redis pub/sub (REDIS_URL set).

A node hands each event it publishes to its own subscribers at once, on the publishing thread,
as the in-process broker does, and sends it to Redis for the others; its listener thread drops
the copy Redis echoes back (it carries this node's name), so every node's subscribers see every
event exactly once. Events from one node arrive everywhere in the order it sent them; two nodes'
events may interleave differently on different nodes, which is harmless because an event only
says what to re-read from the database.

Redis pub/sub keeps nothing. While Redis is down:
- a publish fails within REDIS_TIMEOUT and is logged: this node's own pages still update, the
  other nodes miss that event;
- the listener reconnects with backoff (0.1 s doubling to 5 s) and subscribes again, then calls
  the `after_reconnect` callbacks so this node re-renders every open room in full, which makes
  up for the events it missed.
The first subscription counts as a reconnect too: a node serves as soon as it starts, before
Redis has confirmed it, and a page opened in between missed the other nodes' events (a rename
on node a never reached a page on node b, under load in test_redis_live).
"""

import logging
import threading
from collections.abc import Callable

import redis

from .events import InProcessBroker, RoomEvent, Subscriber, from_wire, to_wire

log = logging.getLogger(__name__)

CHANNEL = "spaces:room-events"
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0  # seconds between attempts to reach Redis again


class RedisBroker:
    def __init__(self, client: redis.Redis, node: str, channel: str = CHANNEL) -> None:
        self.client = client
        self.node = node
        self.channel = channel
        self.local = InProcessBroker()
        self._reconnected: list[Callable[[], None]] = []
        self._stopping = threading.Event()
        self.subscribed = threading.Event()  # set while the listener is subscribed
        self._thread: threading.Thread | None = None

    def publish(self, event: RoomEvent) -> None:
        self.local.publish(event)
        try:
            self.client.publish(self.channel, to_wire(event, self.node))
        except redis.RedisError as exc:
            log.warning(
                "room event (Space %d, %s) not sent to other nodes, Redis did not answer: %s",
                event.space_id,
                event.kind,
                exc,
            )

    def subscribe(self, subscriber: Subscriber) -> None:
        self.local.subscribe(subscriber)

    def after_reconnect(self, callback: Callable[[], None]) -> None:
        """`callback` runs each time the listener subscribes: the first time, and again after
        losing Redis."""
        self._reconnected.append(callback)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, daemon=True, name="redis-events")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _listen(self) -> None:
        delay, lost = BACKOFF_FIRST, False
        while not self._stopping.is_set():
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not self._stopping.is_set():  # until Redis confirms: nothing missed since
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "subscribe":
                        break
                self.subscribed.set()
                delay = BACKOFF_FIRST
                if lost:
                    log.info("room events: subscribed to Redis again")
                self._catch_up()  # the first time too: pages may be open already
                lost = False
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._deliver(message["data"])
            except redis.RedisError as exc:
                self.subscribed.clear()
                if not lost:
                    log.warning("room events: lost Redis (%s); trying again", exc)
                lost = True
                self._stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            finally:
                pubsub.close()

    def _deliver(self, data: bytes) -> None:
        try:
            origin, event = from_wire(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("room events: dropped a message that is not one (%s)", exc)
            return
        if origin != self.node:  # this node's own were delivered when published
            self.local.publish(event)

    def _catch_up(self) -> None:
        for callback in self._reconnected:
            try:
                callback()
            except Exception:
                log.exception("room events: catching up after a reconnect failed")
