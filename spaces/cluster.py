"""What the nodes of one deployment share through Redis when REDIS_URL is set: the connection
settings every part uses, and the lock that lets one node at a time run a scheduled task.

Every call to Redis is bounded (REDIS_TIMEOUT) and never retried by redis-py itself: a request
that publishes an event must not hang on a Redis that is down, and the parts that run for long
(the broker's listener, the presence heartbeat) retry on their own schedule, with backoff.
"""

import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5  # seconds: connecting, and waiting for any one answer


def connect(url: str, timeout: float = REDIS_TIMEOUT) -> redis.Redis:
    """A client (a pool of connections) for the Redis at `url`; no command waits past timeout."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=5,  # an idle pub/sub connection learns within 5 s that it is dead
    )


def node_name() -> str:
    """This process among the nodes: host, pid and a random part (a restarted node is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@contextlib.contextmanager
def one_at_a_time(client: redis.Redis | None, name: str, timeout: float) -> Iterator[bool]:
    """Yields True to the one node holding the lock `name` (for at most `timeout` seconds, in case
    it dies holding it), False to the others, which skip the task this time. A Redis that cannot
    be reached yields False too: the task waits for the next round rather than run twice.
    Without Redis (client None: one node) always True."""
    if client is None:
        yield True
        return
    lock = client.lock(f"spaces:lock:{name}", timeout=timeout, blocking=False)
    try:
        acquired = lock.acquire()
    except redis.RedisError as exc:
        log.warning("lock %s not taken, Redis did not answer: %s", name, exc)
        acquired = False
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(redis.RedisError):  # expired or Redis gone: it lapses
                lock.release()
