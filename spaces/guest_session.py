"""A guest's standing in this browser: their number, the Space they listen to and whether they
turned captions on, in the signed session cookie (no account, no row). Signing in or up clears
it (web.sign_in starts a new session), so a guest who makes an account stops being one."""

from flask import request, session

from . import guests
from .policy import Actor

NUMBER_KEY = "guest"
LISTENING_KEY = "guest_in"  # the Space's id while they listen, as an account is present in one
CAPTIONS_KEY = "guest_captions"


def possible() -> bool:
    """A browser may be a guest; the terminal client may not: a request whose Bearer token signed
    nobody in is refused as before (401), so the client tells its owner to log in again."""
    return not request.headers.get("Authorization", "").startswith("Bearer ")


def number(create: bool = False) -> int | None:
    value = session.get(NUMBER_KEY)
    if not isinstance(value, int) and create:
        value = session[NUMBER_KEY] = guests.new_number()
    return value if isinstance(value, int) else None


def connection_id() -> int | None:
    """The guest's id on the room's sockets, or None for a visitor who never listened."""
    n = number()
    return guests.connection_id(n) if n is not None else None


def listening_in(space_id: int) -> bool:
    return number() is not None and session.get(LISTENING_KEY) == space_id


def actor(space: dict) -> Actor:
    return guests.actor(listening_in(space["id"]))


def start_listening(space_id: int) -> None:
    number(create=True)
    session[LISTENING_KEY] = space_id


def stop_listening() -> None:
    session.pop(LISTENING_KEY, None)


def captions_on() -> bool:
    return bool(session.get(CAPTIONS_KEY))


def set_captions(on: bool) -> None:
    session[CAPTIONS_KEY] = on
