"""The one clock. Every deadline and timestamp reads it, so tests can move time."""

import threading
import time


class Clock:
    """Wall-clock seconds since the epoch, which a test may freeze and advance."""

    def __init__(self) -> None:
        self._frozen: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._frozen if self._frozen is not None else time.time()

    def set(self, when: float) -> None:
        with self._lock:
            self._frozen = float(when)

    def advance(self, seconds: float) -> None:
        with self._lock:
            base = self._frozen if self._frozen is not None else time.time()
            self._frozen = base + seconds

    def unfreeze(self) -> None:
        with self._lock:
            self._frozen = None


clock = Clock()


def now() -> float:
    return clock.now()
