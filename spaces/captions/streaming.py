"""One speaker's streaming caption policy: VAD cuts utterances, LocalAgreement commits partials.

Why this shape:
- Silero VAD (shipped with faster-whisper) finds utterance ends: `end_silence_s` of silence closes
  an utterance, and its final is one decode of the whole utterance, as good as offline.
- The final is computed early, when the silence is `speculate_silence_s` old, so it is ready the
  moment the utterance is confirmed closed; if the speaker goes on, that decode still serves as a
  partial hypothesis.
- Partials decode the utterance so far, continuing the committed words (decoder prefix), at most
  every `partial_every_s` of new audio; LocalAgreement-2 commits what two hypotheses agree on.
  Partial text is the committed words only, so it only ever grows.
- Work is pulled, not pushed: `step()` makes at most one model call, chosen by `want()`, so a
  scheduler over many speakers can run finals first and drop partials under load.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from .agreement import LocalAgreement
from .engine import SAMPLE_RATE as SR
from .engine import words
from .vad import WINDOW, StreamingVad

FRAME_BYTES = 640  # 20 ms of 16 kHz mono int16


class Transcribe(Protocol):
    def __call__(self, audio: np.ndarray, *, prefix: str = "", final: bool = False) -> str: ...


@dataclass(frozen=True)
class CaptionUpdate:
    kind: Literal["partial", "final"]
    text: str
    start: float  # seconds in the Space's recording timeline
    end: float
    utterance_id: int


@dataclass
class StreamPolicy:
    """Tuning; the defaults are what bench/captions.py measures."""

    threshold: float = 0.5  # Silero speech probability that opens speech
    neg_threshold: float = 0.35  # below this, a window counts as silence
    end_silence_s: float = 0.5  # silence that ends an utterance
    speculate_silence_s: float = 0.2  # silence after which the final is decoded in advance
    min_speech_s: float = 0.25  # shorter blips are dropped
    pre_pad_s: float = 0.4  # audio decoded before the onset (faster-whisper's VAD pads 0.4 s)
    post_pad_s: float = 0.2  # and after the end (what is there when the final is decoded early)
    partial_every_s: float = 0.5  # new audio between partial hypotheses
    max_utterance_s: float = 15.0  # split longer monologues at their last pause
    max_gap_s: float = 0.06  # a jump in `t` beyond this (mic off) ends the utterance
    max_pending_finals: int = 8  # beyond this, the oldest final falls back to its partial text
    max_final_lag_s: float = 8.0  # same, for a final waiting longer than this


@dataclass
class _Pending:
    uid: int
    audio: np.ndarray
    start: float
    end: float
    closed_at: float
    committed: str
    speculative: str | None
    had_partial: bool
    degraded: bool = False


class _Audio:
    """Samples addressed by their index since the stream began; the front is dropped cheaply."""

    def __init__(self) -> None:
        self._data = np.zeros(SR * 4, dtype=np.float32)
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
        a, b = max(a, self.start), min(b, self.end)
        return self._data[self._off + a - self.start : self._off + b - self.start].copy()


class SpeakerStream:
    """Feed 20 ms frames; call `step(transcribe)` (one model call at most) to get updates."""

    def __init__(
        self,
        policy: StreamPolicy | None = None,
        *,
        first_utterance_id: int = 1,
        vad: StreamingVad | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or StreamPolicy()
        self.vad = vad or StreamingVad()
        self.clock = clock
        self.next_utterance_id = first_utterance_id
        self._audio = _Audio()
        self._t0: float | None = None
        self._vad_pos = 0
        self._in_speech = False
        self._pending: deque[_Pending] = deque()
        self.frames = 0
        self.model_calls = 0
        self.partials = 0
        self.partials_skipped = 0
        self.finals = 0
        self.finals_degraded = 0

    # --- input ---------------------------------------------------------------------------
    def feed(self, pcm: bytes, t: float) -> None:
        """Append int16 LE mono 16 kHz audio whose first sample is at `t` on the timeline."""
        x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32)
        if self._t0 is not None and abs(t - self._time(self._audio.end)) > self.policy.max_gap_s:
            self._gap()
        if self._t0 is None:
            self._t0 = t - self._audio.end / SR
        self._audio.append(x / 32768.0)
        self.frames += 1
        self._run_vad()
        pad = int(self.policy.pre_pad_s * SR)
        keep = self._utt_start - pad if self._in_speech else self._audio.end - pad
        self._audio.drop_before(min(keep, self._vad_pos))

    def end(self) -> None:
        """The speaker stopped sending (left, muted): close the open utterance now."""
        if self._in_speech:
            self._close(self._silence_start if self._silence_start is not None else self._audio.end)

    @property
    def idle(self) -> bool:
        return not self._in_speech and not self._pending

    # --- what to do next -----------------------------------------------------------------
    def want(self) -> str | None:
        """'final', 'speculative', 'partial' or None: what `step` would spend a call on."""
        if self._pending:
            return "final"
        if not self._in_speech or self._speech_samples < self.policy.min_speech_s * SR:
            return None
        if self._silence_start is not None:
            silence = self._vad_pos - self._silence_start
            if silence >= self.policy.speculate_silence_s * SR and (
                self._spec is None or self._spec[0] != self._silence_start
            ):
                return "speculative"
            return None
        if self._audio.end - self._hyp_end >= self.policy.partial_every_s * SR:
            return "partial"
        return None

    def priority(self) -> tuple[int, float] | None:
        """Sort key for a scheduler: finals (oldest first), then early finals, then partials
        (the stalest first)."""
        work = self.want()
        if work == "final":
            return (0, self._pending[0].closed_at)
        if work == "speculative":
            return (1, -float(self._vad_pos - self._silence_start))
        if work == "partial":
            return (2, -float(self._audio.end - self._hyp_end))
        return None

    def degrade_late_finals(self, now: float) -> int:
        """Bound the lag: finals waiting too long (or too many) take their committed partial
        text instead of a model call. Returns how many were degraded."""
        count = 0
        for i, p in enumerate(self._pending):
            too_many = len(self._pending) - i > self.policy.max_pending_finals
            if not p.degraded and (too_many or now - p.closed_at > self.policy.max_final_lag_s):
                p.degraded = True
                count += 1
        self.finals_degraded += count
        return count

    def step(self, transcribe: Transcribe, *, allow_partial: bool = True) -> list[CaptionUpdate]:
        """Do the most useful piece of work, with at most one model call."""
        work = self.want()
        if work == "final":
            return self._final(transcribe)
        if work == "speculative":
            return self._speculate(transcribe)
        if work == "partial" and allow_partial:
            return self._partial(transcribe)
        return []

    # --- work ----------------------------------------------------------------------------
    def _final(self, transcribe: Transcribe) -> list[CaptionUpdate]:
        p = self._pending.popleft()
        if p.degraded:
            text = p.committed
        elif p.speculative is not None:
            text = p.speculative
        else:
            self.model_calls += 1
            text = transcribe(p.audio, final=True)
        self.finals += 1
        text = text.strip()
        if not text and not p.had_partial:
            return []
        return [CaptionUpdate("final", text, p.start, p.end, p.uid)]

    def _speculate(self, transcribe: Transcribe) -> list[CaptionUpdate]:
        end = self._silence_start
        pre, post = int(self.policy.pre_pad_s * SR), int(self.policy.post_pad_s * SR)
        self._spec = (end, None)  # tried, even if the call raises
        self._hypotheses += 1
        self._hyp_end = self._audio.end
        self.model_calls += 1
        text = transcribe(self._audio.slice(self._utt_start - pre, end + post), final=True)
        self._spec = (end, text)
        return self._partial_update(self._agree.insert_full(words(text)))

    def _partial(self, transcribe: Transcribe) -> list[CaptionUpdate]:
        pad = int(self.policy.pre_pad_s * SR)
        audio = self._audio.slice(self._utt_start - pad, self._audio.end)
        self._hypotheses += 1
        self._hyp_end = self._audio.end
        self.model_calls += 1
        tail = transcribe(audio, prefix=self._agree.text, final=False)
        return self._partial_update(self._agree.insert(words(tail)))

    def _partial_update(self, new: list[str]) -> list[CaptionUpdate]:
        if not new:
            return []
        self._partial_sent = True
        self.partials += 1
        start, end = self._time(self._utt_start), self._time(self._last_speech_end)
        return [CaptionUpdate("partial", self._agree.text, start, end, self._uid)]

    # --- segmentation --------------------------------------------------------------------
    def _run_vad(self) -> None:
        count = (self._audio.end - self._vad_pos) // WINDOW
        if count <= 0:
            return
        probs = self.vad.probs(self._audio.slice(self._vad_pos, self._vad_pos + count * WINDOW))
        for p in probs:
            self._window(self._vad_pos, float(p))
            self._vad_pos += WINDOW

    def _window(self, i: int, p: float) -> None:
        pol = self.policy
        if not self._in_speech:
            if p >= pol.threshold:
                self._open(i)
            return
        end = i + WINDOW
        if p >= pol.threshold:
            self._speech_samples += WINDOW
            if self._silence_start is not None and i - self._silence_start >= 0.09 * SR:
                self._pauses.append((self._silence_start, i))
            self._silence_start = None
            self._last_speech_end = end
        elif p < pol.neg_threshold and self._silence_start is None:
            self._silence_start = i
        if self._silence_start is not None and end - self._silence_start >= pol.end_silence_s * SR:
            self._close(self._silence_start)
        elif end - self._utt_start >= pol.max_utterance_s * SR:
            self._split(end)

    def _open(self, i: int, speech_samples: int = WINDOW) -> None:
        self._in_speech = True
        self._utt_start = i
        self._last_speech_end = i + WINDOW
        self._speech_samples = speech_samples
        self._silence_start: int | None = None
        self._pauses: list[tuple[int, int]] = []
        self._uid = self.next_utterance_id
        self.next_utterance_id += 1
        self._agree = LocalAgreement()
        self._hyp_end = i
        self._hypotheses = 0
        self._partial_sent = False
        self._spec: tuple[int, str | None] | None = None

    def _close(self, end: int) -> None:
        self._in_speech = False
        if self._speech_samples < self.policy.min_speech_s * SR and not self._partial_sent:
            return
        pre, post = int(self.policy.pre_pad_s * SR), int(self.policy.post_pad_s * SR)
        every = int(self.policy.partial_every_s * SR)
        self.partials_skipped += max(0, (end - self._utt_start) // every - self._hypotheses)
        spec = self._spec[1] if self._spec and self._spec[0] == end else None
        self._pending.append(
            _Pending(
                uid=self._uid,
                audio=self._audio.slice(self._utt_start - pre, end + post),
                start=self._time(self._utt_start),
                end=self._time(end),
                closed_at=self.clock(),
                committed=self._agree.text,
                speculative=spec,
                had_partial=self._partial_sent,
            )
        )

    def _split(self, now: int) -> None:
        """A monologue without a long pause: close it at its last short pause and go on."""
        silence = self._silence_start
        late_pauses = [(a, b) for a, b in self._pauses if a > self._utt_start + 3 * SR]
        if silence is not None:
            cut = silence
        elif late_pauses:
            cut = sum(late_pauses[-1]) // 2
        else:
            cut = now
        self._close(cut)
        self._open(cut, speech_samples=0 if silence is not None else now - cut)
        self._silence_start = silence

    def _gap(self) -> None:
        """The timeline jumped (mic off, lost frames): the open utterance ends where audio did."""
        self.end()
        self.vad.reset()
        self._audio.drop_before(self._audio.end)
        self._vad_pos = self._audio.end
        self._t0 = None

    def _time(self, index: int) -> float:
        return round((self._t0 or 0.0) + index / SR, 3)
