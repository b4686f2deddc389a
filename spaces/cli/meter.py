"""A one-line level meter on stderr, redrawn in place at most ten times a second."""

import sys
import time
from typing import TextIO

WIDTH = 30


def bar(level: float, width: int = WIDTH) -> str:
    """`level` 0..1 (-60..0 dBFS) as a bar of `width` characters."""
    filled = max(0, min(width, round(level * width)))
    return "#" * filled + "-" * (width - filled)


def dbfs(level: float) -> str:
    return "  -inf dB" if level <= 0 else f"{level * 60 - 60:6.1f} dB"


class Meter:
    """Shown only on a terminal unless forced; `show` keeps the loudest level since the last
    redraw, so short peaks are not missed."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self._peak = 0.0
        self._last = 0.0
        self._shown = False
        self._length = 0

    def show(self, level: float, status: str = "") -> None:
        if not self.enabled:
            return
        self._peak = max(self._peak, level)
        t = time.monotonic()
        if t - self._last < 0.1:
            return
        self._last = t
        line = f"{self.label} [{bar(self._peak)}] {dbfs(self._peak)}  {status}"
        self._peak = 0.0
        # Pads over what is left of a longer previous line.
        self.stream.write("\r" + line.ljust(self._length))
        self.stream.flush()
        self._length = len(line)
        self._shown = True

    def say(self, message: str) -> None:
        """A message on a line of its own; the meter is redrawn below it on its next update."""
        if self._shown:
            self.stream.write("\r" + " " * self._length + "\r")
            self._shown = False
            self._length = 0
        self.stream.write(message + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Ends the meter's line so what follows starts on a fresh one."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
            self._length = 0


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
