"""Room events and the small publish/subscribe interface they travel on.

Domain functions return a `RoomEvent` saying what changed; views publish it; the live hub of every
node subscribes and pushes fresh fragments. `InProcessBroker` serves one process; a broker for
several nodes (Redis pub/sub, for example) only has to implement `publish` and `subscribe` (and
a wire format for the events).
"""

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
    extra: dict = field(default_factory=dict)


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
