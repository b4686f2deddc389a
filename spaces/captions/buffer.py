"""A speaker's recent audio, addressed by sample index since the stream began."""

from __future__ import annotations

import numpy as np


class AudioBuffer:
    """Appends are amortised O(1) and dropping the front is O(1): a live stream appends a 20 ms
    frame fifty times a second and must not copy its whole utterance each time."""

    def __init__(self, capacity: int = 64_000) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self._off = 0  # position of `start` in _data
        self.start = 0
        self.end = 0

    def append(self, x: np.ndarray) -> None:
        size = self.end - self.start
        if self._off + size + len(x) > len(self._data):
            capacity = max(len(self._data), 2 * (size + len(x)))
            data = np.zeros(capacity, dtype=np.float32)
            data[:size] = self._data[self._off : self._off + size]
            self._data, self._off = data, 0
        pos = self._off + size
        self._data[pos : pos + len(x)] = x
        self.end += len(x)

    def drop_before(self, index: int) -> None:
        index = min(max(index, self.start), self.end)
        self._off += index - self.start
        self.start = index

    def slice(self, a: int, b: int) -> np.ndarray:
        """A copy of samples [a, b), clipped to what is still held."""
        a, b = max(a, self.start), min(b, self.end)
        return self._data[self._off + a - self.start : self._off + b - self.start].copy()
