"""Many speakers, one model: whose step runs next.

One model call at a time, chosen across all speakers: finals first (oldest first), then early
finals, then partials (utterances with no text yet first, then the stalest); no partial starts
while someone's utterance is ending, since a call cannot be interrupted. Under overload partials
are simply not run, and when one finally runs it decodes the newest audio, so nothing queues up
behind it; finals that still wait too long fall back to their committed partial text, so the lag
stays bounded. This runs inside the worker process, and in-process in tests with any
`transcribe`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from .policy import StreamPolicy
from .streaming import CaptionUpdate, SpeakerStream, Transcribe

COUNTERS = (
    "frames_model",
    "model_calls",
    "model_ms",
    "partials",
    "partials_skipped",
    "finals",
    "finals_degraded",
)


class StreamSet:
    def __init__(
        self,
        policy: StreamPolicy | None = None,
        *,
        idle_end_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or StreamPolicy()
        self.idle_end_s = idle_end_s
        self.clock = clock
        self.streams: dict[Hashable, SpeakerStream] = {}
        self._last_frame: dict[Hashable, float] = {}
        self._next_uid: dict[Hashable, int] = {}
        self._retired: dict[Hashable, dict[str, int]] = {}

    def feed(self, key: Hashable, pcm: bytes, t: float) -> None:
        stream = self.streams.get(key)
        if stream is None:
            stream = SpeakerStream(
                self.policy, first_utterance_id=self._next_uid.get(key, 1), clock=self.clock
            )
            self.streams[key] = stream
        stream.feed(pcm, t)
        self._last_frame[key] = self.clock()

    def end(self, key: Hashable, discard: bool = False) -> None:
        """End of this speaker's stream: close the open utterance (or, `discard`, drop it and
        all finals not made yet); forget the stream once done."""
        stream = self.streams.get(key)
        if stream is not None:
            stream.discard() if discard else stream.end()
            self._last_frame[key] = float("-inf")
            self._retire_idle()

    def sweep(self) -> None:
        """A speaker who stopped sending frames (mic off) has stopped speaking."""
        now = self.clock()
        for key, stream in self.streams.items():
            if now - self._last_frame.get(key, now) > self.idle_end_s:
                stream.end()
        self._retire_idle()

    def has_work(self) -> bool:
        return self._next() is not None

    def run_once(self, transcribe: Transcribe) -> list[tuple[Hashable, CaptionUpdate]]:
        """At most one model call, for the most urgent speaker."""
        now = self.clock()
        for stream in self.streams.values():
            stream.degrade_late_finals(now)
        key = self._next()
        if key is None:
            return []
        updates = [(key, u) for u in self.streams[key].step(transcribe)]
        self._retire_idle()
        return updates

    def _next(self) -> Hashable | None:
        """The most urgent stream. A partial does not start while someone's utterance is
        ending: a call cannot be interrupted, and that final is worth more."""
        best: tuple[tuple[int, int, float], Hashable] | None = None
        ending = False
        for key, stream in self.streams.items():
            ending = ending or stream.ending
            prio = stream.priority()
            if prio is not None and (best is None or prio < best[0]):
                best = (prio, key)
        if best is None or (best[0][0] == 2 and ending):
            return None
        return best[1]

    def counters(self) -> dict[Hashable, dict[str, int]]:
        out = {key: dict(values) for key, values in self._retired.items()}
        for key, stream in self.streams.items():
            live = _stream_counters(stream)
            base = out.get(key)
            out[key] = {k: live[k] + (base[k] if base else 0) for k in COUNTERS}
        return out

    def _retire_idle(self) -> None:
        for key in [k for k, s in self.streams.items() if s.idle and self._stale(k)]:
            stream = self.streams.pop(key)
            self._next_uid[key] = stream.next_utterance_id
            done = _stream_counters(stream)
            base = self._retired.get(key)
            self._retired[key] = {k: done[k] + (base[k] if base else 0) for k in COUNTERS}
            self._last_frame.pop(key, None)

    def _stale(self, key: Hashable) -> bool:
        return self.clock() - self._last_frame.get(key, float("-inf")) > self.idle_end_s


def _stream_counters(stream: SpeakerStream) -> dict[str, int]:
    return {
        "frames_model": stream.frames,
        "model_calls": stream.model_calls,
        "model_ms": stream.model_ms,
        "partials": stream.partials,
        "partials_skipped": stream.partials_skipped,
        "finals": stream.finals,
        "finals_degraded": stream.finals_degraded,
    }
