"""The room pages' live sockets on edges: the Redis names, and the core's side of them.

A Space's pages on edges are told what changed on one channel, `spaces:live:<id>`, one JSON
message per hub flush (built once, whatever the number of edges or listeners):

- `shared`: the frame every listener's page gets (the listener kind of viewer: spaces/room_render
  `viewer_kind`), unless `users` has one of its own for them;
- `users`: {user id: frame} for listeners whose own controls or notices changed, or who are
  listed in a changed section (they see their own item);
- `close`: {user id: [code, reason, html]}: what takes the room's place (removed, left), then
  the socket closes with the core's code; `end`: the same for everyone (the Space ended);
- `captions`: caption lines, for the pages that are visible and turned `View captions` on
  (the edge's filter: it knows its sockets) and whose person may view them (the core's word,
  given with each full state and taken back by the verdicts);
- `captions_on`: {user id: bool}, a person's `View captions` toggle (a request to the core).

The core publishes a Space's messages only while an edge wants them (`spaces:edge:wanted:<id>:
live`, kept alive as for the mix). Edges ask the core on LIVE_REQUESTS: `full` (that person's
full state, answered on the edge's own reply channel) and `message` (a page's message, applied
by the core as for its own sockets). Publishing never blocks the hub: a thread of its own does.
"""

import json
import logging
import queue
import threading
import time
from collections.abc import Callable

import redis

from .batches import next_batch, publish_all
from .mix_channel import WANTED_EVERY, wanted_key

log = logging.getLogger(__name__)

LIVE = "live"  # the "codec" of a live socket in the wanted keys and on the edge
LIVE_REQUESTS = "spaces:live:requests"
QUEUE_MESSAGES = 1000  # messages waiting for Redis before dropping (Redis is away)


def live_channel(space_id: int) -> str:
    return f"spaces:live:{space_id}"


def reply_channel(node: str) -> str:
    return f"spaces:live:reply:{node}"


class LivePublisher:
    """The core's side: the hub's flushes and the captions go out through `publish`, and the
    edges' requests come in to `answer` (a callable of the request, returning the reply or
    None), both on threads of their own."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue(QUEUE_MESSAGES)
        self.wanted: set[int] = set()
        self._seen: set[int] = set()
        # Spaces an edge just asked a full state of, by when: wanted at once, and kept wanted
        # by a read of the keys that began before the edge set its key
        self._fresh: dict[int, float] = {}
        self._wanted_lock = threading.Lock()  # the two threads that change `wanted`
        self.answer: Callable[[dict], dict | None] = lambda request: None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = {"published": 0, "dropped": 0, "failed": 0, "requests": 0}

    def wants(self, space_id: int) -> bool:
        """Whether an edge has room pages of this Space open (as of the last read, at most
        WANTED_EVERY ago); asking marks the Space as one to read."""
        self._seen.add(space_id)
        return space_id in self.wanted

    def publish(self, space_id: int, message: dict) -> None:
        self._put(live_channel(space_id), message)

    def reply(self, node: str, message: dict) -> None:
        self._put(reply_channel(node), message)

    def _put(self, channel: str, message: dict) -> None:
        try:
            self.queue.put_nowait((channel, json.dumps(message)))
        except queue.Full:
            self.stats["dropped"] += 1

    def start(self) -> None:
        for target, name in ((self._run, "live-publisher"), (self._hear, "live-requests")):
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)

    def _run(self) -> None:
        checked = 0.0
        while not self._stopping.is_set():
            if time.monotonic() - checked >= WANTED_EVERY:
                self._read_wanted()
                checked = time.monotonic()
            batch = next_batch(self.queue, 100)
            if batch:
                publish_all(self.client, batch, self.stats, "pages' changes")

    def _read_wanted(self) -> None:
        rooms, self._seen = sorted(self._seen | self.wanted), set()
        found: set[int] = set()
        if rooms:
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    for space_id in rooms:
                        pipe.exists(wanted_key(space_id, LIVE))
                    answers = pipe.execute()
            except redis.RedisError as exc:
                log.warning("edges' wanted room pages not read, Redis did not answer: %s", exc)
                return
            found = {space_id for space_id, on in zip(rooms, answers, strict=True) if on}
        with self._wanted_lock:
            self.wanted = found | self._still_fresh()

    def _still_fresh(self) -> set[int]:
        """Spaces asked for in the last two reads (read after the keys, so none is missed)."""
        t = time.monotonic()
        fresh = set()
        for space_id, at in list(self._fresh.items()):
            if t - at < 2 * WANTED_EVERY:
                fresh.add(space_id)
            else:
                self._fresh.pop(space_id, None)
        return fresh

    def _hear(self) -> None:
        """The edges' requests, each answered in turn (a full state is one render)."""
        while not self._stopping.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(LIVE_REQUESTS)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is None or message["type"] != "message":
                        continue
                    self.stats["requests"] += 1
                    try:
                        request = json.loads(message["data"])
                        answer = self.answer(request)
                    except Exception:
                        log.exception("an edge's request was not answered")
                        continue
                    if answer is not None:
                        if request.get("type") == "full":  # the Space's changes go out from now
                            space_id = int(request["space_id"])
                            with self._wanted_lock:
                                self._fresh[space_id] = time.monotonic()
                                self.wanted = self.wanted | {space_id}
                        self.reply(str(request["node"]), answer)
            except redis.RedisError as exc:
                log.warning("edges' requests not heard, Redis did not answer: %s", exc)
                self._stopping.wait(1.0)
            finally:
                pubsub.close()
