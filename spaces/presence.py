"""Who has a socket open in a Space, on any node: what keeps a person present.

The database says who is in a Space (`participants.present`); this says whose page or player is
connected right now. The live hub tells it when a socket opens and closes (`hold`, `release`),
and, when someone's last socket on this node has been gone for the grace period, asks whether a
socket on another node keeps them (`elsewhere`) before it makes them leave.

`LocalPresence` is one process's memory (REDIS_URL unset: there is no elsewhere).
`RedisPresence` keeps, per Space, a sorted set of "user_id:node" entries scored by when each
expires (Redis's clock, so the nodes' clocks need not agree). A heartbeat thread renews this
node's entries every third of PRESENCE_TTL_SECONDS, and the key itself expires with its last
entry. A node that dies stops renewing: its people count as present for at most the TTL more.
(One sorted set per Space rather than one key per entry: counting a Space's people is one read,
where keys would take a scan of the whole keyspace.)
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

import redis

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (space_id, user_id)

# Both read Redis's clock: TIME inside a script (Redis 5+ replicates a script's effects).
_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
# KEYS[1]: the Space's set; ARGV[1]: the TTL in ms; ARGV[2...]: this node's entries to renew.
_RENEW = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + ARGV[1], ARGV[i]) end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
return #ARGV - 1
"""
)
_LIVE = _NOW_MS + "return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')"


class Presence(Protocol):
    def hold(self, space_id: int, user_id: int) -> None:
        """A socket of this person's opened in this Space on this node."""

    def release(self, space_id: int, user_id: int) -> None:
        """One of those sockets closed."""

    def elsewhere(self, keys: Iterable[Key]) -> set[Key]:
        """Those of these (space, person) that another node has a socket open for."""

    def present(self, space_id: int) -> set[int]:
        """Everyone with a socket open in this Space, on any node."""

    def others(self, space_id: int) -> set[int]:
        """Everyone with a socket open in this Space on another node (guests counted there)."""


class LocalPresence:
    """One node's sockets, counted per person."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Counter[Key] = Counter()

    def hold(self, space_id: int, user_id: int) -> None:
        with self._lock:
            self._held[(space_id, user_id)] += 1

    def release(self, space_id: int, user_id: int) -> None:
        with self._lock:
            key = (space_id, user_id)
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]

    def elsewhere(self, keys: Iterable[Key]) -> set[Key]:
        return set()

    def present(self, space_id: int) -> set[int]:
        with self._lock:
            return {user for (space, user) in self._held if space == space_id}

    def others(self, space_id: int) -> set[int]:
        return set()

    def held(self) -> set[Key]:
        with self._lock:
            return set(self._held)


class RedisPresence(LocalPresence):
    """This node's sockets, mirrored into Redis by a heartbeat thread (so opening and closing a
    socket never waits on Redis); the questions about other nodes go to Redis."""

    def __init__(self, client: redis.Redis, node: str, ttl: float) -> None:
        super().__init__()
        self.client = client
        self.node = node
        self.ttl = ttl
        self._renew = client.register_script(_RENEW)
        self._live = client.register_script(_LIVE)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._written: set[Key] = set()  # this node's entries as last written to Redis
        self._thread: threading.Thread | None = None
        # Told the Spaces whose guests on this node changed, once Redis has the change, so the
        # other nodes' pages count them (the app publishes a room event for each).
        self.on_guests_changed: Callable[[set[int]], None] | None = None

    def hold(self, space_id: int, user_id: int) -> None:
        super().hold(space_id, user_id)
        self._wake.set()

    def release(self, space_id: int, user_id: int) -> None:
        super().release(space_id, user_id)
        self._wake.set()

    def elsewhere(self, keys: Iterable[Key]) -> set[Key]:
        """One round trip for all of them. When Redis does not answer: all of them. Making
        someone leave is the act that cannot be undone, so it waits until Redis can say (the hub
        asks again a grace period later)."""
        keys = set(keys)
        try:
            entries = self._entries({space_id for space_id, _user in keys})
            if self.redis_settling():
                log.info("presence: Redis has just (re)started, nobody leaves yet")
                return keys
        except redis.RedisError as exc:
            log.warning("presence: Redis did not answer, nobody leaves yet: %s", exc)
            return keys
        return {
            (space_id, user)
            for space_id, space_entries in entries.items()
            for user, node in space_entries
            if node != self.node and (space_id, user) in keys
        }

    def redis_settling(self) -> bool:
        """Redis (re)started so recently that a live node may not have written its entries back
        yet: a restarted Redis holds none, and each node rewrites all of them every third of the
        TTL (a second more for the uptime's whole seconds)."""
        return self.client.info("server")["uptime_in_seconds"] < self.ttl / 3 + 1

    def present(self, space_id: int) -> set[int]:
        """From Redis; this node's own people only, when Redis does not answer."""
        try:
            return {user for user, _node in self._entries({space_id})[space_id]}
        except redis.RedisError as exc:
            log.warning("presence: Redis did not answer, counting this node only: %s", exc)
            return super().present(space_id)

    def others(self, space_id: int) -> set[int]:
        """From Redis; nobody, when Redis does not answer."""
        try:
            entries = self._entries({space_id})[space_id]
        except redis.RedisError:
            return set()
        return {user for user, node in entries if node != self.node}

    def _entries(self, spaces: set[int]) -> dict[int, list[tuple[int, str]]]:
        """Each Space's live (person, node) entries."""
        order = sorted(spaces)
        with self.client.pipeline(transaction=False) as pipe:
            for space_id in order:
                self._live(keys=[_key(space_id)], client=pipe)
            answers = pipe.execute()
        entries = {}
        for space_id, members in zip(order, answers, strict=True):
            pairs = (member.decode().split(":", 1) for member in members)
            entries[space_id] = [(int(user), node) for user, node in pairs]
        return entries

    # The heartbeat -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, daemon=True, name="redis-presence")
        self._thread.start()

    def stop(self) -> None:
        """Stops renewing (as a node that died would): this node's entries expire by the TTL."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _beat(self) -> None:
        every, failing, renewed = self.ttl / 3, False, 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                # Every entry each third of the TTL; in between only what opened or closed.
                full = time.monotonic() - renewed >= every
                self.sync(full)
                if full:
                    renewed = time.monotonic()
                if failing:
                    log.info("presence: Redis answers again")
                failing = False
            except redis.RedisError as exc:
                if not failing:
                    log.warning("presence: not renewed, Redis did not answer: %s", exc)
                failing = True
            self._wake.wait(every)

    def sync(self, full: bool = True) -> None:
        """Writes this node's new entries (all of them, renewed, when `full`) and removes the
        ones whose sockets all closed."""
        held = self.held()
        gone = self._written - held
        by_space: dict[int, list[str]] = {}
        for space_id, user_id in held if full else held - self._written:
            by_space.setdefault(space_id, []).append(self._member(user_id))
        ttl_ms = int(self.ttl * 1000)
        with self.client.pipeline(transaction=False) as pipe:
            for space_id, members in by_space.items():
                self._renew(keys=[_key(space_id)], args=[ttl_ms, *members], client=pipe)
            for space_id, user_id in gone:
                pipe.zrem(_key(space_id), self._member(user_id))
            pipe.execute()
        changed = {space_id for space_id, user_id in held ^ self._written if user_id < 0}
        self._written = held
        if changed and self.on_guests_changed is not None:
            self.on_guests_changed(changed)

    def _member(self, user_id: int) -> str:
        return f"{user_id}:{self.node}"


def _key(space_id: int) -> str:
    return f"spaces:presence:{space_id}"
