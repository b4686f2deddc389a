"""One speaker's jitter buffer: frames come in at the network's pace, one leaves on every tick.

Its rules, all of them here:
- Prefill: a speaker is heard once PREFILL frames are buffered, which absorbs network jitter.
  When it runs dry (an underrun) it gives silence and fills up again before playing on.
- Maximum: beyond MAX_BUFFER frames the oldest are dropped, so a speaker whose clock runs fast,
  or who bursts after a stall, never adds delay.
- Trimming: after an underrun the buffer refills to PREFILL, so frames that arrive late and then
  in a bunch stay queued for good (in and out run at the same rate): each hiccup would add 20 ms,
  up to MAX_BUFFER. A buffer that has kept a spare frame beyond what it needs after every tick
  for TRIM_AFTER ticks drops its oldest one.

The speaker's socket thread pushes and the mixer's tick thread takes; one lock guards the frames
and the counts, so neither ever sees the other half-way.
"""

import threading
from collections import deque

PREFILL = 2  # frames (40 ms) buffered before a speaker is heard
MAX_BUFFER = 6  # frames (120 ms); older ones are dropped
TRIM_AFTER = 50  # ticks (1 s) a spare frame may stay before the oldest frame is dropped


class JitterBuffer:
    """Frames in with `push`, one frame (or None for silence) out per tick with `next_frame`."""

    def __init__(self) -> None:
        self._frames: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._playing = False
        self._spare_ticks = 0  # ticks in a row that ended with a spare frame held
        self.dropped = 0  # frames thrown away, by the maximum or by trimming
        self.underruns = 0

    def __len__(self) -> int:
        """Frames held now: the speaker's delay in this buffer, in frames."""
        with self._lock:
            return len(self._frames)

    def push(self, frame: bytes) -> None:
        with self._lock:
            self._frames.append(frame)
            if len(self._frames) > MAX_BUFFER:
                self._frames.popleft()
                self.dropped += 1

    def next_frame(self) -> bytes | None:
        """This tick's frame, or None while (re)filling or after the speaker stopped sending."""
        with self._lock:
            frame = self._play()
            self._trim()
            return frame

    def clear(self) -> None:
        """Forgets everything held: the speaker went off air, and prefills again when back."""
        with self._lock:
            self._frames.clear()
            self._playing = False
            self._spare_ticks = 0

    def _play(self) -> bytes | None:
        if not self._playing:
            if len(self._frames) < PREFILL:
                return None
            self._playing = True
        if not self._frames:
            self._playing = False
            self.underruns += 1
            return None
        return self._frames.popleft()

    def _trim(self) -> None:
        if len(self._frames) < PREFILL:
            self._spare_ticks = 0
            return
        self._spare_ticks += 1
        if self._spare_ticks >= TRIM_AFTER:
            self._frames.popleft()
            self.dropped += 1
            self._spare_ticks = 0
