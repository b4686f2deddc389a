"""Voice activity per 32 ms window, scored incrementally for a live stream.

faster-whisper's `get_speech_timestamps` re-scores a whole array from a fresh state; a live stream
needs the Silero state carried between calls so each window is scored once. This uses the Silero
VAD v6 network faster-whisper ships (same session, same context handling as its
`SileroVADModel.__call__`), and falls back to an energy detector if onnxruntime is missing.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np

log = logging.getLogger(__name__)

WINDOW = 512  # samples at 16 kHz: the window Silero v6 is trained on
_CONTEXT = 64


def _silero_session():
    try:
        from faster_whisper.vad import get_vad_model

        return get_vad_model().session
    except Exception as exc:  # onnxruntime missing or the asset unreadable
        log.warning("Silero VAD unavailable (%s); captions fall back to an energy VAD", exc)
        return None


class StreamingVad:
    """Speech probability for each complete 512-sample window fed, state kept between calls."""

    def __init__(self, kind: str = "silero") -> None:
        self._session = _silero_session() if kind == "silero" else None
        self.kind = "silero" if self._session is not None else "energy"
        self.reset()

    def reset(self) -> None:
        """Forget the past (after a gap in the stream)."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._recent_db: deque[float] = deque(maxlen=160)  # about 5 s of windows

    def probs(self, samples: np.ndarray) -> np.ndarray:
        """`samples` is float32 in [-1, 1], a multiple of 512 long; one probability per window."""
        windows = samples.reshape(-1, WINDOW)
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        if self._session is None:
            return self._energy(windows)
        context = np.concatenate([self._context[None], windows[:-1, -_CONTEXT:]], axis=0)
        batch = np.ascontiguousarray(np.concatenate([context, windows], axis=1), dtype=np.float32)
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = windows[-1, -_CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def _energy(self, windows: np.ndarray) -> np.ndarray:
        """Loudness well above the quietest window of the last 5 s; crude, but keeps captions
        working without onnxruntime."""
        rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)) + 1e-9
        out = np.zeros(len(windows), dtype=np.float32)
        for i, db in enumerate(20 * np.log10(rms)):
            self._recent_db.append(float(db))
            floor = min(self._recent_db)
            out[i] = 1.0 if db > max(floor + 15.0, -55.0) else 0.0
        return out
