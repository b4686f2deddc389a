"""What the core's publishers to Redis share: a queue drained in batches, one pipeline each.

The tick and the hub only queue (never waiting on Redis); a publisher thread takes what has
queued and sends it in one round trip, counting what Redis did not take.
"""

import logging
import queue

import redis

log = logging.getLogger(__name__)

WAIT = 0.1  # seconds a publisher waits for something to send before looking at its keys again


def next_batch(waiting: queue.Queue, limit: int) -> list:
    """The first item to arrive within WAIT, with whatever else is queued behind it (up to
    `limit` in all); [] when nothing came."""
    try:
        batch = [waiting.get(timeout=WAIT)]
    except queue.Empty:
        return []
    while len(batch) < limit:
        try:
            batch.append(waiting.get_nowait())
        except queue.Empty:
            break
    return batch


def publish_all(
    client: redis.Redis, batch: list[tuple[str, bytes | str]], stats: dict, what: str
) -> None:
    """PUBLISHes (channel, data) pairs in one pipeline; a failure is counted in stats["failed"]
    and logged once."""
    try:
        with client.pipeline(transaction=False) as pipe:
            for channel, data in batch:
                pipe.publish(channel, data)
            pipe.execute()
        stats["published"] += len(batch)
    except redis.RedisError as exc:
        if not stats["failed"]:
            log.warning("%s not published to the edges, Redis did not answer: %s", what, exc)
        stats["failed"] += len(batch)
