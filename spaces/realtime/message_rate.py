"""The rate limit on what a room page sends on its live socket, on the core and on the edges: a
token bucket of MAX_MESSAGES_PER_SECOND; a page past it is closed with POLICY_VIOLATION."""

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
