"""The Redis names the core and the edges share, and the core's side of the mix channels.

One channel per Space and codec (`spaces:mix:<id>:opus`, `spaces:mix:<id>:pcm`): a message is
exactly the bytes a listener's audio socket of that codec receives (docs/audio-protocol.md): for
v2 the listeners' message of three Opus frames, every third tick; for v1 the PCM frame of the mix
and the levels frame when due, every tick; the room's text messages on both. An edge writes it to
its sockets as it is, so the sequence numbers are the core's. The core publishes a room's codec
only while some edge wants it: each edge keeps `spaces:edge:wanted:<id>:<codec>` alive
(WANTED_TTL) while it has a listener of that codec there, so a single node, a room nobody listens
to from an edge, or v1 nobody asks for, costs Redis nothing.

The tick never waits on Redis: `MixPublisher.put` only queues (dropping when Redis is slow), and
a thread of its own publishes, in one pipeline per batch, and reads the wanted keys once a second.
"""

import logging
import queue
import threading
import time

import redis

from ..realtime.audio_terms import CODECS
from .batches import next_batch, publish_all

log = logging.getLogger(__name__)

VERDICTS = "spaces:edge:verdicts"
WANTED_TTL = 5  # seconds: an edge renews its wanted keys every WANTED_EVERY
WANTED_EVERY = 1.0
QUEUE_TICKS = 100  # messages queued for Redis (2 s of one room's v1) before dropping


def mix_channel(space_id: int, codec: str) -> str:
    return f"spaces:mix:{space_id}:{codec}"


def channel_room(channel: bytes) -> tuple[int, str]:
    """The Space and codec a mix channel's name carries."""
    _prefix, _mix, space_id, codec = channel.decode().split(":")
    return int(space_id), codec


def wanted_key(space_id: int, codec: str) -> str:
    return f"spaces:edge:wanted:{space_id}:{codec}"


class MixPublisher:
    """The core's side: the audio engine's `mix_sink` (spaces/realtime/audio.py, MixSink)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.queue: queue.Queue[tuple[int, str, bytes]] = queue.Queue(QUEUE_TICKS)
        self.wanted: set[tuple[int, str]] = set()
        self._seen: set[int] = set()  # rooms that ticked since the wanted keys were last read
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"published": 0, "dropped": 0, "failed": 0}

    def wants(self, space_id: int, codec: str) -> bool:
        """Called on the tick: whether an edge has listeners of this codec in the room (as of
        the last read of the wanted keys, at most WANTED_EVERY ago)."""
        self._seen.add(space_id)
        return (space_id, codec) in self.wanted

    def put(self, space_id: int, codec: str, payload: bytes) -> None:
        """Called on the tick: queues the payload; never blocks."""
        try:
            self.queue.put_nowait((space_id, codec, payload))
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
            batch = next_batch(self.queue, QUEUE_TICKS)
            if batch:
                messages = [(mix_channel(s, codec), payload) for s, codec, payload in batch]
                publish_all(self.client, messages, self.stats, "mix")

    def _read_wanted(self) -> None:
        rooms, self._seen = sorted(self._seen), set()
        if not rooms:
            self.wanted = set()
            return
        keys = [(space_id, codec) for space_id in rooms for codec in CODECS]
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for space_id, codec in keys:
                    pipe.exists(wanted_key(space_id, codec))
                answers = pipe.execute()
        except redis.RedisError as exc:
            log.warning("edges' wanted rooms not read, Redis did not answer: %s", exc)
            return
        self.wanted = {key for key, wanted in zip(keys, answers, strict=True) if wanted}
