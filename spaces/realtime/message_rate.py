"""What a room page sends on its live socket, on the core and on the edges: a rate limit (a token
bucket of MAX_MESSAGES_PER_SECOND; a page past it is closed with POLICY_VIOLATION), and the one
shape a message may have (a JSON object)."""

import json
import time

MAX_MESSAGES_PER_SECOND = 10
POLICY_VIOLATION = 1008


class MessageRate:
    def __init__(self, per_second: float = MAX_MESSAGES_PER_SECOND) -> None:
        self.per_second = per_second
        self.allowance = per_second
        self.last = time.monotonic()

    def allow(self) -> bool:
        """One more message: whether it is within the limit."""
        t = time.monotonic()
        self.allowance = min(self.per_second, self.allowance + (t - self.last) * self.per_second)
        self.last = t
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True


def page_message(message) -> dict | None:
    """A page's message as the JSON object it must be, or None for anything else (ignored)."""
    if not isinstance(message, str):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
