"""Utterances out of one live stream, and the stream's timeline.

Silero VAD scores each 32 ms window once; the hysteresis is that of Silero's own
`get_speech_timestamps` (speech opens at `threshold`, silence is below `neg_threshold`). An
utterance closes after `end_silence_s` of silence and is split at its last short pause when it
grows past `max_utterance_s`. `t` of each frame keeps the timeline: lost frames are filled with
silence, a real gap (mic off) closes the utterance. Subclasses say what happens at open/close.
"""

from __future__ import annotations

import numpy as np

from ..audio_format import SAMPLE_DTYPE, SAMPLE_WIDTH
from ..audio_format import SAMPLE_RATE as SR
from .buffer import AudioBuffer
from .policy import StreamPolicy
from .vad import WINDOW, StreamingVad


class Segmenter:
    def __init__(self, policy: StreamPolicy, vad: StreamingVad) -> None:
        self.policy = policy
        self.vad = vad
        self._audio = AudioBuffer()
        self._t0: float | None = None  # timeline time of sample 0
        self._vad_pos = 0  # first sample not yet scored
        self._in_speech = False
        self.frames = 0

    def feed(self, pcm: bytes, t: float) -> None:
        """Append int16 LE mono 16 kHz audio whose first sample is at `t` on the timeline."""
        x = np.frombuffer(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH], dtype=SAMPLE_DTYPE)
        x = x.astype(np.float32)
        if self._t0 is not None:
            jump = t - (self._t0 + self._audio.end / SR)
            if abs(jump) > self.policy.max_gap_s:
                self._gap()
            elif jump > 0.015:  # lost frames: keep the timeline, hear silence
                self._audio.append(np.zeros(round(jump * SR), dtype=np.float32))
            elif jump < -0.015:
                self._t0 += jump
        if self._t0 is None:
            self._t0 = t - self._audio.end / SR
        self._audio.append(x / 32768.0)
        self.frames += 1
        if self._audio.end - self._vad_pos > SR:  # nobody asked for a while: keep memory flat
            self._run_vad()

    def end(self) -> None:
        """The speaker stopped sending (left, muted): close the open utterance now."""
        self._run_vad()
        if self._in_speech:
            self._close(self._silence_start if self._silence_start is not None else self._audio.end)

    def _run_vad(self) -> None:
        """Score the windows that arrived since last time in one call (lazily: a worker that
        was busy decoding scores its backlog at once, not frame by frame)."""
        count = (self._audio.end - self._vad_pos) // WINDOW
        if count <= 0:
            return
        probs = self.vad.probs(self._audio.slice(self._vad_pos, self._vad_pos + count * WINDOW))
        for p in probs:
            self._window(self._vad_pos, float(p))
            self._vad_pos += WINDOW
        self._trim()

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
        self._opened(i)

    def _close(self, end: int) -> None:
        self._in_speech = False
        self._closed(end)

    # --- for the subclass ------------------------------------------------------------------
    def _opened(self, start: int) -> None:
        """An utterance began at sample `start`."""

    def _closed(self, end: int) -> None:
        """The open utterance ended at sample `end` (its audio is still in `_audio`)."""

    def _trim(self) -> None:
        """Drop audio nobody needs any more (here: all but the pre-pad before speech)."""
        keep = self._utt_start if self._in_speech else self._audio.end
        self._audio.drop_before(min(keep - int(self.policy.pre_pad_s * SR), self._vad_pos))

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
