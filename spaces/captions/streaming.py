"""One speaker's streaming caption policy: VAD cuts utterances, LocalAgreement commits partials.

Why this shape:
- Silero VAD (shipped with faster-whisper) finds utterance ends: `end_silence_s` of silence closes
  an utterance, and its final is one decode of the whole utterance, as good as offline.
- The final is computed early, when the silence is `speculate_silence_s` old, so it is ready the
  moment the utterance is confirmed closed; if the speaker goes on, that decode still serves as a
  partial hypothesis.
- Partials decode the utterance so far, continuing the committed words (decoder prefix), at most
  every `first_partial_every_s` of new audio until words show, then every `partial_every_s`;
  LocalAgreement-2 commits what two hypotheses agree on.
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

from ..audio_format import SAMPLE_RATE as SR
from .agreement import LocalAgreement
from .engine import words
from .numbers import show_numbers, unsettled_tail
from .policy import Pending, StreamPolicy
from .repeats import new_words, unloop
from .segmentation import Segmenter
from .vad import StreamingVad


class Transcribe(Protocol):
    def __call__(
        self, audio: np.ndarray, *, prefix: str = "", final: bool = False, prompt: str = ""
    ) -> str: ...


@dataclass(frozen=True)
class CaptionUpdate:
    kind: Literal["partial", "final"]
    text: str
    start: float  # seconds in the Space's recording timeline
    end: float
    utterance_id: int


class SpeakerStream(Segmenter):
    """Feed 20 ms frames; call `step(transcribe)` (one model call at most) to get updates."""

    def __init__(
        self,
        policy: StreamPolicy | None = None,
        *,
        first_utterance_id: int = 1,
        vad: StreamingVad | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(policy or StreamPolicy(), vad or StreamingVad())
        self.clock = clock
        self.next_utterance_id = first_utterance_id
        self._pending: deque[Pending] = deque()
        self._context: tuple[int, int, str] | None = None  # previous final: start, end, text
        self._last_final = ""  # its words as shown, for the guard against repeats at a cut
        self.model_calls = 0
        self.model_ms = 0
        self.partials = 0
        self.partials_skipped = 0
        self.finals = 0
        self.finals_degraded = 0

    def discard(self) -> None:
        """Consent revoked: forget the open utterance and every final not yet made."""
        self._in_speech = False
        self._pending.clear()
        self._context = None
        self._last_final = ""

    @property
    def idle(self) -> bool:
        self._run_vad()
        return not self._in_speech and not self._pending

    # --- what to do next -----------------------------------------------------------------
    def want(self) -> str | None:
        """'final', 'speculative', 'partial' or None: what `step` would spend a call on."""
        self._run_vad()
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
        return "partial" if self._due_partials(self._audio.end) else None

    def _due_partials(self, upto: int) -> int:
        """How many partial hypotheses the cadence asked for, up to sample `upto`, not made."""
        pol = self.policy
        every = pol.partial_every_s if self._partial_sent else pol.first_partial_every_s
        return max(0, upto - self._hyp_end) // int(every * SR)

    def priority(self) -> tuple[int, int, float] | None:
        """Sort key for a scheduler: finals (oldest first), then early finals, then partials
        (an utterance with no text yet first, then the stalest)."""
        work = self.want()
        if work == "final":
            return (0, 0, self._pending[0].closed_at)
        if work == "speculative":
            return (1, 0, -float(self._vad_pos - self._silence_start))
        if work == "partial":
            return (2, int(self._partial_sent), -float(self._audio.end - self._hyp_end))
        return None

    @property
    def ending(self) -> bool:
        """Silence has begun in an utterance worth a final: its early final is near."""
        self._run_vad()
        return (
            self._in_speech
            and self._silence_start is not None
            and self._speech_samples >= self.policy.min_speech_s * SR
            and (self._spec is None or self._spec[0] != self._silence_start)
        )

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
        started = time.perf_counter()
        try:
            if work == "final":
                return self._final(transcribe)
            if work == "speculative":
                return self._speculate(transcribe)
            if work == "partial" and allow_partial:
                return self._partial(transcribe)
            return []
        finally:
            self.model_ms += round((time.perf_counter() - started) * 1000)

    # --- work ----------------------------------------------------------------------------
    def _final(self, transcribe: Transcribe) -> list[CaptionUpdate]:
        p = self._pending.popleft()
        if p.degraded:
            text = p.committed
        elif p.speculative is not None:
            text = p.speculative
        else:
            self.model_calls += 1
            text = transcribe(p.audio, prefix=p.prefix, final=True, prompt=p.prompt)
        self.finals += 1
        text = unloop(text.strip())
        if text and not p.degraded:
            self._context = (p.own_start, p.end_index, text)
        text = new_words(self._last_final, text)
        self._last_final = text or self._last_final
        if not text and not p.had_partial:
            return []
        return [CaptionUpdate("final", show_numbers(text), p.start, p.end, p.uid)]

    def _speculate(self, transcribe: Transcribe) -> list[CaptionUpdate]:
        end = self._silence_start
        start, prefix, prompt = self._final_window(end)
        self._spec = (end, None)  # tried, even if the call raises
        self._hypotheses += 1
        self._hyp_end = self._audio.end
        self.model_calls += 1
        post = int(self.policy.post_pad_s * SR)
        audio = self._audio.slice(start, end + post)
        text = transcribe(audio, prefix=prefix, final=True, prompt=prompt)
        self._spec = (end, text)
        return self._partial_update(self._agree.insert_full(words(text)))

    def _partial(self, transcribe: Transcribe) -> list[CaptionUpdate]:
        pad = int(self.policy.pre_pad_s * SR)
        audio = self._audio.slice(self._utt_start - pad, self._audio.end)
        self.partials_skipped += max(0, self._due_partials(self._audio.end) - 1)
        self._hypotheses += 1
        self._hyp_end = self._audio.end
        self.model_calls += 1
        tail = transcribe(audio, prefix=self._agree.text, final=False)
        return self._partial_update(self._agree.insert(words(tail)))

    def _partial_update(self, new: list[str]) -> list[CaptionUpdate]:
        """The committed words, numbers as captions show them. A number still being said
        ("forty" may become "forty two") waits for the next word, so shown text only grows."""
        if not new:
            return []
        committed = self._agree.committed
        shown = show_numbers(" ".join(committed[: len(committed) - unsettled_tail(committed)]))
        if len(shown) <= len(self._shown):
            return []
        self._shown = shown
        self._partial_sent = True
        self.partials += 1
        start, end = self._time(self._utt_start), self._time(self._last_speech_end)
        return [CaptionUpdate("partial", shown, start, end, self._uid)]

    # --- utterances ------------------------------------------------------------------------
    def _opened(self, start: int) -> None:
        self._uid = self.next_utterance_id
        self.next_utterance_id += 1
        self._agree = LocalAgreement()
        self._hyp_end = start
        self._hypotheses = 0
        self._partial_sent = False
        self._shown = ""
        self._spec: tuple[int, str | None] | None = None

    def _closed(self, end: int) -> None:
        if self._speech_samples < self.policy.min_speech_s * SR and not self._partial_sent:
            return
        pre, post = int(self.policy.pre_pad_s * SR), int(self.policy.post_pad_s * SR)
        self.partials_skipped += self._due_partials(end)
        spec = self._spec[1] if self._spec and self._spec[0] == end else None
        start, prefix, prompt = self._final_window(end)
        self._pending.append(
            Pending(
                uid=self._uid,
                audio=self._audio.slice(start, end + post),
                prefix=prefix,
                prompt=prompt,
                own_start=max(self._audio.start, self._utt_start - pre),
                end_index=end,
                start=self._time(self._utt_start),
                end=self._time(end),
                closed_at=self.clock(),
                committed=self._agree.text,  # shown as is if this final is degraded
                speculative=spec,
                had_partial=self._partial_sent,
            )
        )

    def _trim(self) -> None:
        """Keep the open utterance, and the last one while it may still serve as context."""
        pol = self.policy
        keep = self._audio.end - int(pol.pre_pad_s * SR)
        if self._in_speech:
            keep = self._utt_start - int(pol.pre_pad_s * SR)
        if self._context is not None and self._audio.end - self._context[0] > pol.context_s * SR:
            self._context = None  # too old to fit any future final's window
        anchors = [p.own_start for p in self._pending]
        anchors += [self._context[0]] if self._context is not None else []
        for anchor in anchors:
            if self._audio.end - anchor <= pol.context_s * SR:
                keep = min(keep, anchor)
        self._audio.drop_before(min(keep, self._vad_pos))

    def _gap(self) -> None:
        super()._gap()
        self._context = None

    def _final_window(self, end: int) -> tuple[int, str, str]:
        """Where a final's audio starts, its decoder prefix and its prompt. Whisper decodes
        better with the previous sentence in the window (offline `transcribe()` always has it),
        and the encoder pads short windows anyway, so a recent previous utterance and its final
        text come along. A long utterance is decoded like offline (its own audio in the 30 s
        window, with timestamps: see Transcriber), with the previous text as a prompt: forced
        as a prefix there, it made Whisper write nothing at all."""
        pol = self.policy
        pre = int(pol.pre_pad_s * SR)
        ctx = self._context
        recent = ctx is not None and self._utt_start - ctx[1] <= pol.context_gap_s * SR
        if end - self._utt_start > pol.long_final_s * SR:
            return self._utt_start - pre, "", ctx[2] if ctx is not None and recent else ""
        if (
            ctx is not None
            and ctx[0] >= self._audio.start
            and self._utt_start - ctx[1] <= pol.context_gap_s * SR
            and end + pol.post_pad_s * SR - ctx[0] <= pol.context_s * SR
        ):
            return ctx[0], ctx[2], ""
        return self._utt_start - pre, "", ""
