"""The core's word to the edges about their listeners: who must go now, with which close code.

An edge has no database, so a room event (removed, left, a role change, the end) means nothing to
it by itself. The core, which subscribes to every room event, reads the standing of each person
the event names and publishes a verdict on VERDICTS for those who may no longer hold a listener's
socket: the same close codes the core's own audio socket uses, and RESTART for a listener who
became a speaker or the host (their client asks the core for the audio address again and is sent
to the core, the one node that takes microphones). Ended Spaces get one verdict for everyone.
"""

import json
import logging

import redis

from .. import accounts, guests, policy, rooms
from ..db import ThreadLocalDatabases
from ..events import RoomEvent
from ..realtime.close_codes import ENDED, LEFT, REMOVED, RESTART
from .mix_channel import VERDICTS

log = logging.getLogger(__name__)


def standing(db, space_id: int, user_id: int) -> tuple[int, str] | None:
    """Why this person may no longer listen from an edge (a close code and reason), or None."""
    space = rooms.get(db, space_id)
    if space["ended_at"] is not None:
        return ENDED, "ended"
    who = rooms.actor(db, space, accounts.get(db, user_id))
    if not policy.can(who, "view", space):
        return REMOVED, "removed"
    if not policy.can(who, "leave", space):  # i.e. present in the Space
        return LEFT, "left"
    if who.role in ("speaker", "host"):
        return RESTART, "moved to the core"
    return None


def verdicts(db, event: RoomEvent) -> list[dict]:
    """The verdicts an event calls for (user None: everyone in the Space)."""
    if event.kind == "ended":
        return [{"space_id": event.space_id, "user_id": None, "code": ENDED, "reason": "ended"}]
    found = []
    for user_id in sorted(event.removed | event.left | event.users):
        if guests.is_guest(user_id):  # a guest gets no grant, so never listens from an edge
            continue
        gone = (REMOVED, "removed") if user_id in event.removed else None
        gone = gone or standing(db, event.space_id, user_id)
        if gone:
            code, reason = gone
            found.append(
                {"space_id": event.space_id, "user_id": user_id, "code": code, "reason": reason}
            )
    return found


class VerdictPublisher:
    """The broker subscriber on the core (REDIS_URL set)."""

    def __init__(self, databases: ThreadLocalDatabases, client: redis.Redis) -> None:
        self.databases = databases
        self.client = client

    def on_event(self, event: RoomEvent) -> None:
        if event.kind != "ended" and not (event.removed or event.left or event.users):
            return
        for verdict in verdicts(self.databases.get(), event):
            try:
                self.client.publish(VERDICTS, json.dumps(verdict))
            except redis.RedisError as exc:
                log.warning(
                    "verdict %s not sent to the edges, Redis did not answer: %s", verdict, exc
                )
                return
