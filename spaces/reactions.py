"""Reactions and raised hands: how people in a Space answer without asking for the stage.

A reaction (Clap, Laugh, Heart, Hundred) is a moment: shown on the reactor's item for a few
seconds, then gone. A raised hand is room state: it stays until it is lowered, or until its
person changes role (goes on stage, or off it) or leaves, and a Space's hands go when it ends.

Nothing here is written to the database (issue 17: reactions are not kept after the Space ends):
the `Board` holds, per live Space, each person's rate allowance and the raised hands, in memory.
A restart forgets the hands; people raise them again.

People are named by a key (`user_key`, `guest_key`), not a user id, so that a guest's connection
reacts with a key of its own: their rate allowance is theirs alone. A guest is named nowhere, so
pages see a guest's reaction under one shared slot (`GUEST_SLOT`, by the "N guests" count), not
their key. A guest's allowance is kept until the Space ends (no room event says a guest left),
so leaving and listening again does not refill it.

Who may react is `policy.can(who, "react", space)`; a raised hand asks `policy.why_hand` (no guest
raises one).
"""

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from . import policy
from .errors import Forbidden, Invalid
from .events import RoomEvent
from .policy import Actor

# name -> (label, emoji). The labels are the buttons' names (UI.md).
KINDS = {
    "clap": ("Clap", "👏"),
    "laugh": ("Laugh", "😂"),
    "heart": ("Heart", "❤️"),
    "hundred": ("Hundred", "💯"),
}
HAND = "✋"
RATE = 3.0  # reactions (and hand changes) per second a person may send, sustained...
BURST = 6.0  # ...after a quiet moment this many at once
SHOW_SECONDS = 4  # how long a reaction stays on the reactor's item (static/reactions.js)


GUEST_SLOT = "guest"  # where pages show any guest's reaction (templates/rooms/_listeners.html)
GUEST_NAME = "a guest"


def user_key(user_id: int) -> str:
    return f"u{user_id}"


def guest_key(connection_id: int) -> str:
    """A guest's key, from the id their sockets carry (guests.connection_id): one per guest."""
    return f"g{abs(connection_id)}"


@dataclass(frozen=True)
class Reactor:
    """Who reacts: their key, the name the room shows, and their role in the Space now."""

    key: str
    name: str
    role: str | None
    username: str | None = None  # None for a guest

    @classmethod
    def of_user(cls, user: dict, who: Actor) -> "Reactor":
        return cls(
            user_key(user["id"]),
            user.get("display_name") or user["username"],
            who.role,
            user["username"],
        )

    @classmethod
    def of_guest(cls, connection_id: int, who: Actor) -> "Reactor":
        return cls(guest_key(connection_id), GUEST_NAME, who.role)

    @property
    def slot(self) -> str:
        """The key pages show the reaction under: a guest's own key stays on the server."""
        return GUEST_SLOT if self.username is None else self.key


@dataclass(frozen=True)
class Reaction:
    reactor: Reactor
    kind: str

    @property
    def label(self) -> str:
        return KINDS[self.kind][0]

    @property
    def emoji(self) -> str:
        return KINDS[self.kind][1]


@dataclass(frozen=True)
class Hand:
    """A raised hand, kept while its person holds the role they raised it in."""

    key: str
    name: str
    role: str
    username: str | None
    raised_at: float


@dataclass
class Bucket:
    """A token bucket: `RATE` a second, up to `BURST` saved up."""

    tokens: float
    last: float

    def take(self, now: float, rate: float, burst: float) -> bool:
        self.tokens = min(burst, self.tokens + (now - self.last) * rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Room:
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    hands: dict[str, Hand] = field(default_factory=dict)


class Board:
    """Every live Space's rate allowances and raised hands. Thread-safe: socket threads write,
    the hub's flusher reads."""

    def __init__(
        self, rate: float = RATE, burst: float = BURST, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._rooms: dict[int, _Room] = {}
        self._lock = threading.Lock()

    def allow(self, space_id: int, key: str, what: str = "react") -> bool:
        """Takes one from the person's allowance for `what` ("react", or "hand": a hand is
        raised at once even after a burst of claps); False when they are over the rate."""
        t = self.clock()
        with self._lock:
            room = self._rooms.setdefault(space_id, _Room())
            bucket = room.buckets.setdefault((key, what), Bucket(self.burst, t))
            return bucket.take(t, self.rate, self.burst)

    def raise_hand(self, space_id: int, reactor: Reactor) -> bool:
        """True when the hand was not already up (in this role)."""
        if reactor.role is None:
            return False
        with self._lock:
            hands = self._rooms.setdefault(space_id, _Room()).hands
            hand = hands.get(reactor.key)
            if hand is not None and hand.role == reactor.role:
                return False
            hands[reactor.key] = Hand(
                reactor.key, reactor.name, reactor.role, reactor.username, self.clock()
            )
            return True

    def lower_hand(self, space_id: int, key: str) -> bool:
        """True when a hand was up."""
        with self._lock:
            room = self._rooms.get(space_id)
            return room is not None and room.hands.pop(key, None) is not None

    def is_raised(self, space_id: int, key: str, role: str | None) -> bool:
        with self._lock:
            hand = self._rooms.get(space_id, _Room()).hands.get(key)
        return hand is not None and role is not None and hand.role == role

    def hands(self, space_id: int, roles: Mapping[str, str | None]) -> list[Hand]:
        """The raised hands, oldest first, of people still in the role they raised them in
        (`roles`: every present person's role by key); the others' hands are dropped."""
        with self._lock:
            room = self._rooms.get(space_id)
            if room is None:
                return []
            for key, hand in list(room.hands.items()):
                if roles.get(key) != hand.role:
                    del room.hands[key]
            return sorted(room.hands.values(), key=lambda h: h.raised_at)

    def forget(self, space_id: int, keys: Iterable[str]) -> None:
        """People who left or were removed: their hands go down."""
        with self._lock:
            room = self._rooms.get(space_id)
            if room is not None:
                for key in keys:
                    room.hands.pop(key, None)
                    room.buckets.pop((key, "react"), None)
                    room.buckets.pop((key, "hand"), None)

    def end(self, space_id: int) -> None:
        """The Space ended: nothing of its reactions is kept."""
        with self._lock:
            self._rooms.pop(space_id, None)

    def on_event(self, event: RoomEvent) -> None:
        """A broker subscriber: the end clears the room, leaving lowers the person's hand."""
        if event.kind == "ended":
            self.end(event.space_id)
        elif event.left or event.removed:
            self.forget(event.space_id, [user_key(u) for u in event.left | event.removed])


# Acting ----------------------------------------------------------------------------------------


def _check(board: Board, space: dict, who: Actor, reactor: Reactor, what: str) -> bool:
    """False when the person is over the rate (the message is dropped quietly: their page keeps
    to the same rate, so only a forged flood gets here); Forbidden when they may not react (or,
    for a hand, raise one)."""
    if not board.allow(space["id"], reactor.key, what):
        return False
    reason = policy.why(who, "react", space) if what == "react" else policy.why_hand(who, space)
    if reason:
        raise Forbidden(reason)
    return True


def react(board: Board, space: dict, who: Actor, reactor: Reactor, kind: str) -> Reaction | None:
    """A reaction to show on every page, or None when over the rate."""
    if kind not in KINDS:
        raise Invalid("There is no such reaction.")
    if not _check(board, space, who, reactor, "react"):
        return None
    return Reaction(reactor, kind)


def set_hand(
    board: Board, space: dict, who: Actor, reactor: Reactor, raised: bool, user_id: int | None
) -> RoomEvent | None:
    """Raises or lowers the person's hand: the event re-renders their item (the ✋), their own
    controls (`Raise hand` / `Lower hand`) and the Requests area; None when nothing changed."""
    if not _check(board, space, who, reactor, "hand"):
        return None
    if raised:
        changed = board.raise_hand(space["id"], reactor)
    else:
        changed = board.lower_hand(space["id"], reactor.key)
    if not changed:
        return None
    listed = "stage" if reactor.role in ("host", "speaker") else "listeners"
    users = frozenset({user_id}) if user_id is not None else frozenset()
    return RoomEvent(space["id"], frozenset({listed, "requests"}), users)


def mark_hands(board: Board, space_id: int, presence: dict) -> list[Hand]:
    """Marks the items of `presence` (rooms.presence) whose person has a hand up (`hand`), and
    answers the raised hands, for the room's lists and the Requests area."""
    roles = {user_key(uid): role for uid, role in presence["roles"].items()}
    hands = board.hands(space_id, roles)
    up = {hand.key for hand in hands}
    for group in ("host", "speakers", "listeners", "requests"):
        for row in presence[group]:
            row["hand"] = user_key(row["user_id"]) in up
    return hands
