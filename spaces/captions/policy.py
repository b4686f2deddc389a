"""Tuning of the streaming policy, and what an utterance waiting for its final holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    first_partial_every_s: float = 0.3  # new audio between hypotheses until words show
    partial_every_s: float = 1.0  # and after that (fewer calls that a final could wait behind)
    max_utterance_s: float = 15.0  # split longer monologues at their last pause
    max_gap_s: float = 0.2  # a jump in `t` beyond this (mic off) ends the utterance; shorter
    # jumps (lost frames) are filled with silence, and small backward steps re-anchor the clock
    max_pending_finals: int = 8  # beyond this, the oldest final falls back to its partial text
    max_final_lag_s: float = 8.0  # same, for a final waiting longer than this
    context_s: float = 15.0  # finals also decode the previous utterance, within this window
    context_gap_s: float = 3.0  # ... if it ended at most this long before
    long_final_s: float = 5.0  # a longer utterance is decoded alone, the previous text a prompt


@dataclass
class Pending:
    uid: int
    audio: np.ndarray
    prefix: str  # the previous final's text when `audio` starts with its utterance
    prompt: str  # the previous final's text when `audio` does not have it (a long utterance)
    own_start: int  # first sample of this utterance's own audio (with its pre-pad)
    end_index: int
    start: float
    end: float
    closed_at: float
    committed: str
    speculative: str | None
    had_partial: bool
    degraded: bool = False
