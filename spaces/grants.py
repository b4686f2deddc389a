"""Listener grants: a short-lived pass the core signs when someone joins a Space, so that a node
without the database (an edge serving listeners' sockets) can tell who they are, in which Space,
in which role, until when.

Signed with the app's secret (itsdangerous), under a salt of its own, so no other signed value
of the app (the session cookie, for one) passes as a grant, nor a grant as one of them. The
expiry is inside the signed payload and read against the app's clock. A grant is not a
revocation list: removals, blocks, role changes and the end reach the edges as room events; the
grant only has to be short enough that a leaked one is soon worthless.
"""

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from .clock import now

SALT = "spaces.listener-grant"
GRANT_SECONDS = 120  # long enough to open the sockets after joining, and to reconnect
ROLES = frozenset({"listener", "speaker", "host"})


class GrantRefused(Exception):
    """Not a grant for this Space now: forged, damaged, expired or for another Space."""


@dataclass(frozen=True)
class Grant:
    user_id: int
    space_id: int
    role: str
    expires_at: float


def issue(
    secret_key: str, user_id: int, space_id: int, role: str, *, seconds: float = GRANT_SECONDS
) -> str:
    """The signed grant, good for `seconds` from now."""
    if role not in ROLES:
        raise ValueError(f"no such role: {role!r}")
    payload = {"u": user_id, "s": space_id, "r": role, "exp": now() + seconds}
    return _serializer(secret_key).dumps(payload)


def check(secret_key: str, token: str, space_id: int) -> Grant:
    """The grant `token` carries, if it is ours, unexpired and for `space_id`; GrantRefused
    otherwise."""
    try:
        payload = _serializer(secret_key).loads(token)
        grant = Grant(
            user_id=int(payload["u"]),
            space_id=int(payload["s"]),
            role=str(payload["r"]),
            expires_at=float(payload["exp"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise GrantRefused("not a grant of this server") from exc
    if grant.role not in ROLES:
        raise GrantRefused("not a grant of this server")
    if grant.expires_at <= now():
        raise GrantRefused("expired")
    if grant.space_id != space_id:
        raise GrantRefused("for another Space")
    return grant


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)
