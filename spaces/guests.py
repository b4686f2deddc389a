"""Guest listeners (issue 18): visitors without an account who listen to a live Space.

A guest is known by a random number kept in their (signed) session cookie (guest_session.py);
the rules see them as an `Actor` with `guest=True` (policy.py). Their sockets are counted and
capped like anyone's, under a connection id that no account can have: minus their number. They
are counted in the room ("3 guests") and listed nowhere.
"""

import secrets

from .policy import Actor

NUMBER_BITS = 48  # plenty against collisions among guests at once; an exact float in JS too


def new_number() -> int:
    return secrets.randbits(NUMBER_BITS) or 1


def actor(listening: bool) -> Actor:
    """A guest as the rules see them: listening (present, as a listener) or only looking."""
    return Actor(user_id=None, guest=True, role="listener" if listening else None)


def connection_id(number: int) -> int:
    """The id a guest's sockets carry where an account's carry its user id (hub, audio relay):
    negative, so it is never an account's, and the same for all of one guest's sockets."""
    return -abs(number)


def is_guest(connection_user_id: int) -> bool:
    return connection_user_id < 0


def count_text(count: int) -> str:
    """How the room says how many guests listen: "1 guest", "3 guests"."""
    return f"{count} guest{'' if count == 1 else 's'}"
