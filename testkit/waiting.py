"""Waiting for a condition with a deadline, instead of sleeping and hoping.

`wait_until` returns as soon as the condition holds, so a generous deadline costs nothing when
things work and only a broken feature waits it out. `stays` is its opposite, for checks that
something does NOT happen: it watches for the whole window it names, and says how long that was.
"""

import time


def wait_until(predicate, within: float, every: float = 0.05, *, what: str | None = None):
    """Polls predicate until it answers something true, and returns that answer.

    When `within` seconds pass first: with `what` (a test), AssertionError naming it and the last
    answer; without (a drill recording a figure), the last answer is returned."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            if what is None:
                return value
            raise AssertionError(f"{what}: not within {within} s (last: {value!r})")
        time.sleep(every)


def stays(predicate, during: float, every: float = 0.05, *, what: str) -> None:
    """Checks that predicate holds for `during` seconds; AssertionError naming `what` and when it
    stopped holding otherwise."""
    started = time.monotonic()
    while True:
        if not predicate():
            elapsed = time.monotonic() - started
            raise AssertionError(f"{what}: no longer true after {elapsed:.2f} s of {during} s")
        if time.monotonic() - started >= during:
            return
        time.sleep(every)


def settles(read, quiet: float, within: float, every: float = 0.1, *, what: str):
    """Polls read() until its answer has stayed the same for `quiet` seconds (a counter that
    stopped), and returns that answer; AssertionError naming `what` if it is still changing after
    `within` seconds."""
    deadline = time.monotonic() + within
    value, since = read(), time.monotonic()
    while True:
        time.sleep(every)
        now = time.monotonic()
        latest = read()
        if latest != value:
            value, since = latest, now
        elif now - since >= quiet:
            return value
        if now >= deadline:
            raise AssertionError(f"{what}: still changing after {within} s (last: {value!r})")
