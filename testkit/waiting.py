"""Waiting for a condition with a deadline, instead of sleeping and hoping."""

import time


def wait_until(predicate, within: float, every: float = 0.1):
    """Polls predicate until it answers something true (returned) or `within` seconds pass (then
    its last answer is returned)."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)
