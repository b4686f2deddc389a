"""Mixing for one room: the room mix, each speaker's mix-minus and their levels.

Frames are in the room's format (spaces/audio_format.py: 20 ms of 16 kHz mono 16-bit PCM).
The mixer runs on a steady tick; each tick asks every speaker's jitter buffer (jitter.py) for one
frame, and the buffer decides whether there is one to play.
"""

import numpy as np

from ..audio_format import FRAME_SAMPLES, SAMPLE_DTYPE, SILENCE
from .jitter import JitterBuffer


def level(samples: np.ndarray) -> float:
    """Loudness of one frame from 0 to 1 (RMS on a log scale, -60 dBFS..0 dBFS)."""
    if samples.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) / 32768.0
    if rms <= 1e-3:
        return 0.0
    return min(1.0, (20 * np.log10(rms) + 60) / 60)


class MixResult:
    """One tick's output: the room mix, each speaker's mix-minus, and levels."""

    __slots__ = ("mix", "minus", "levels", "frames")

    def __init__(
        self,
        mix: bytes,
        minus: dict[int, bytes],
        levels: dict[int, float],
        frames: dict[int, bytes],
    ) -> None:
        self.mix = mix
        self.minus = minus
        self.levels = levels
        self.frames = frames  # each speaker's own frame this tick (for captions)


def mix_tick(
    buffers: dict[int, JitterBuffer], wanted_minus: set[int] | frozenset = frozenset()
) -> MixResult:
    """Mixes one frame from every buffer. Sums in int32 and clamps, so loud voices never wrap."""
    frames: dict[int, bytes] = {}
    arrays: dict[int, np.ndarray] = {}
    for user_id, buffer in buffers.items():
        frame = buffer.next_frame()
        if frame is not None:
            frames[user_id] = frame
            arrays[user_id] = np.frombuffer(frame, dtype=SAMPLE_DTYPE)
    if not arrays:
        return MixResult(SILENCE, {u: SILENCE for u in wanted_minus}, {}, {})
    total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
    for samples in arrays.values():
        total += samples
    mix = np.clip(total, -32768, 32767).astype(SAMPLE_DTYPE).tobytes()
    minus = {}
    for user_id in wanted_minus:
        own = arrays.get(user_id)
        if own is None:
            minus[user_id] = mix
        elif len(arrays) == 1:
            minus[user_id] = SILENCE
        else:
            minus[user_id] = np.clip(total - own, -32768, 32767).astype(SAMPLE_DTYPE).tobytes()
    levels = {user_id: level(samples) for user_id, samples in arrays.items()}
    return MixResult(mix, minus, levels, frames)
