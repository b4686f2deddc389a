"""Room events and the small publish/subscribe interface they travel on.

Domain functions return a `RoomEvent` saying what changed; views publish it; the live hub of every
node subscribes and pushes fresh fragments. `InProcessBroker` serves one process;
`redis_broker.RedisBroker` serves several nodes, sending events between them in the wire format
below (`to_wire`/`from_wire`).
"""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoomEvent:
    """What changed in one Space.

    sections: parts of the room page every viewer must re-render ('meta', 'stage', 'listeners',
      'requests', 'pinned', 'ended').
    users: people whose own controls changed (their role, request, invitation, microphone).
    notices: (user_id, sentence) pairs announced to that person (`role=status`).
    removed: people who must leave at once (removed, or blocked by the host).
    left: people no longer in the Space (they left, logged out, or started a Space elsewhere):
      their sockets close unless they are back by then.
    """

    space_id: int
    sections: frozenset[str] = frozenset()
    users: frozenset[int] = frozenset()
    notices: tuple[tuple[int, str], ...] = ()
    removed: frozenset[int] = frozenset()
    left: frozenset[int] = frozenset()
    kind: str = "change"
    extra: dict = field(default_factory=dict)  # plain JSON values only (it crosses nodes)


# The wire format: one JSON object per event, with the format's version and the node that
# published it. Sets travel as sorted lists and come back as frozensets, pairs as lists and come
# back as tuples, so an event read back equals the one sent. A node that meets a version it does
# not know drops the event and logs it (nodes of two versions side by side during an upgrade).
WIRE_VERSION = 1


def to_wire(event: RoomEvent, origin: str) -> bytes:
    body = {
        "space_id": event.space_id,
        "sections": sorted(event.sections),
        "users": sorted(event.users),
        "notices": [[user_id, text] for user_id, text in event.notices],
        "removed": sorted(event.removed),
        "left": sorted(event.left),
        "kind": event.kind,
        "extra": event.extra,
    }
    return json.dumps({"v": WIRE_VERSION, "origin": origin, "event": body}).encode()


def from_wire(data: bytes | str) -> tuple[str, RoomEvent]:
    """(the node that published it, the event); ValueError for anything else."""
    message = json.loads(data)
    if not isinstance(message, dict) or message.get("v") != WIRE_VERSION:
        raise ValueError(f"not a room event of wire version {WIRE_VERSION}")
    body = message["event"]
    event = RoomEvent(
        space_id=int(body["space_id"]),
        sections=frozenset(body["sections"]),
        users=frozenset(int(u) for u in body["users"]),
        notices=tuple((int(user_id), str(text)) for user_id, text in body["notices"]),
        removed=frozenset(int(u) for u in body["removed"]),
        left=frozenset(int(u) for u in body["left"]),
        kind=str(body["kind"]),
        extra=dict(body["extra"]),
    )
    return str(message["origin"]), event


Subscriber = Callable[[RoomEvent], None]


class Broker(Protocol):
    def publish(self, event: RoomEvent) -> None: ...

    def subscribe(self, subscriber: Subscriber) -> None: ...


class InProcessBroker:
    """Delivers each event to every subscriber of this process, in order, on the caller's thread.

    Subscribers must be quick (the live hub only marks what is dirty and returns).
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def publish(self, event: RoomEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("room event subscriber failed")

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)


# Events beyond one room (scheduled Spaces and notifications, issue 18): the live hub ignores
# them; the site feed (realtime/site_feed.py) pushes the Explore lists and navigation counts.
LISTED = "listed"  # a Space was scheduled, started, cancelled or ended: the lists change
# extra["notified"], on any event: people with new notifications (not `users`: the audio and
# captions relays act on `users`, and a Space's start may notify thousands of followers).
NOTIFIED = "notified"  # an event only for that (space_id 0)


def listed(space_id: int) -> RoomEvent:
    return RoomEvent(space_id, kind=LISTED)


def notified(user_ids: list[int]) -> RoomEvent:
    return RoomEvent(0, kind=NOTIFIED, extra={"notified": tuple(user_ids)})
