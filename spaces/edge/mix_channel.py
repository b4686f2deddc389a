"""The Redis names the core and the edges share, and the core's side of the mix channel.

One channel per Space (`spaces:mix:<id>`): a message is exactly the bytes a listener's audio
socket receives for one tick (the websocket frame of the mix, and the levels frame when due), so
an edge writes it to its sockets as it is. The core publishes a room only while some edge wants
it: each edge keeps `spaces:edge:wanted:<id>` alive (WANTED_TTL) while it has a listener there, so
a single node, or a room nobody listens to from an edge, costs Redis nothing.

The tick never waits on Redis: `MixPublisher.sink` only queues (dropping when Redis is slow), and
a thread of its own publishes, in one pipeline per batch, and reads the wanted keys once a second.
"""

import logging
import queue
import threading
import time

import redis

log = logging.getLogger(__name__)

VERDICTS = "spaces:edge:verdicts"
WANTED_TTL = 5  # seconds: an edge renews its wanted keys every WANTED_EVERY
WANTED_EVERY = 1.0
QUEUE_TICKS = 100  # per-tick messages queued for Redis (2 s of one room) before dropping


def mix_channel(space_id: int) -> str:
    return f"spaces:mix:{space_id}"


def wanted_key(space_id: int) -> str:
    return f"spaces:edge:wanted:{space_id}"


class MixPublisher:
    """The core's side: `sink(space_id, payload)` is the audio engine's `mix_sink`."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.queue: queue.Queue[tuple[int, bytes]] = queue.Queue(QUEUE_TICKS)
        self.wanted: set[int] = set()
        self._seen: set[int] = set()  # rooms that ticked since the wanted keys were last read
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"published": 0, "dropped": 0, "failed": 0}

    def sink(self, space_id: int, payload: bytes) -> None:
        """Called on the tick: queues the room's payload if an edge wants it; never blocks."""
        self._seen.add(space_id)
        if space_id not in self.wanted:
            return
        try:
            self.queue.put_nowait((space_id, payload))
        except queue.Full:
            self.stats["dropped"] += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="mix-publisher")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        checked = 0.0
        while not self._stopping.is_set():
            if time.monotonic() - checked >= WANTED_EVERY:
                self._read_wanted()
                checked = time.monotonic()
            try:
                batch = [self.queue.get(timeout=0.1)]
            except queue.Empty:
                continue
            while len(batch) < QUEUE_TICKS:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._publish(batch)

    def _publish(self, batch: list[tuple[int, bytes]]) -> None:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for space_id, payload in batch:
                    pipe.publish(mix_channel(space_id), payload)
                pipe.execute()
            self.stats["published"] += len(batch)
        except redis.RedisError as exc:
            if not self.stats["failed"]:
                log.warning("mix not published to the edges, Redis did not answer: %s", exc)
            self.stats["failed"] += len(batch)

    def _read_wanted(self) -> None:
        rooms, self._seen = sorted(self._seen), set()
        if not rooms:
            self.wanted = set()
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for space_id in rooms:
                    pipe.exists(wanted_key(space_id))
                answers = pipe.execute()
        except redis.RedisError as exc:
            log.warning("edges' wanted rooms not read, Redis did not answer: %s", exc)
            return
        self.wanted = {r for r, wanted in zip(rooms, answers, strict=True) if wanted}
