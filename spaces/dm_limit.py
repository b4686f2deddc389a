"""The direct-message rate limit: one allowance per address for every route that sends DMs.

The message form sends one message a request; Share by DM sends one to each person named. Both
spend the same allowance, so sharing cannot multiply it.
"""

import functools

from flask import abort, current_app
from flask_limiter.util import get_remote_address
from limits import parse

from .errors import DomainError
from .extensions import limiter

RATE = parse("30 per minute")
_SCOPE = "direct-messages"


class TooManyMessages(DomainError):
    status = 429

    def __init__(self) -> None:
        super().__init__(
            f"That would send more than {RATE.amount} direct messages a minute. Nothing was"
            " sent: send to fewer people, or wait a minute."
        )


def spend(count: int) -> bool:
    """Takes `count` messages from this sender's allowance, all or none: False, with nothing
    taken, if that would go past it."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return True
    strategy, key = limiter.limiter, (_SCOPE, get_remote_address())
    return strategy.test(RATE, *key, cost=count) and strategy.hit(RATE, *key, cost=count)


def one_message(view):
    """For a route that sends one message a request: past the allowance, the site's 429 page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not spend(1):
            abort(429, description=str(RATE))
        return view(*args, **kwargs)

    return wrapped
