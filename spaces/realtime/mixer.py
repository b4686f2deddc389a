"""Mixing for one room: the room mix, each speaker's mix-minus and their levels.

Frames are in the room's format (spaces/audio_format.py: 20 ms of 16 kHz mono 16-bit PCM).
The mixer runs on a steady tick; each tick asks every speaker's jitter buffer (jitter.py) for one
frame, and the buffer decides whether there is one to play.
"""

import numpy as np

from ..audio_format import SAMPLE_DTYPE, SILENCE
from .jitter import JitterBuffer


def level(samples: np.ndarray) -> float:
    """Loudness of one frame from 0 to 1 (RMS on a log scale, -60 dBFS..0 dBFS)."""
    if samples.size == 0:
        return 0.0
    return float(levels_of(samples.reshape(1, -1))[0])


def levels_of(voices: np.ndarray) -> np.ndarray:
    """`level` of each row (one speaker's frame) at once: the tick pays a few numpy calls, not a
    few per speaker."""
    rms = np.sqrt(np.mean(voices.astype(np.float64) ** 2, axis=1)) / 32768.0
    with np.errstate(divide="ignore"):
        scaled = (20 * np.log10(np.maximum(rms, 1e-12)) + 60) / 60
    return np.where(rms <= 1e-3, 0.0, np.minimum(1.0, scaled))


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
    """Mixes one frame from every buffer. Sums in int32 and clamps, so loud voices never wrap.
    The voices are one array (a row each), so the mix, every mix-minus and every level take a few
    numpy calls whatever the number of speakers."""
    frames: dict[int, bytes] = {}
    for user_id, buffer in buffers.items():
        frame = buffer.next_frame()
        if frame is not None:
            frames[user_id] = frame
    if not frames:
        return MixResult(SILENCE, {u: SILENCE for u in wanted_minus}, {}, {})
    speakers = list(frames)
    voices = np.frombuffer(b"".join(frames.values()), dtype=SAMPLE_DTYPE).reshape(len(frames), -1)
    total = voices.sum(axis=0, dtype=np.int32)
    mix = np.clip(total, -32768, 32767).astype(SAMPLE_DTYPE).tobytes()
    minus = {user_id: mix for user_id in wanted_minus if user_id not in frames}
    talking = [i for i, user_id in enumerate(speakers) if user_id in wanted_minus]
    if len(speakers) == 1:
        minus.update({speakers[i]: SILENCE for i in talking})
    elif talking:
        others = np.clip(total - voices[talking], -32768, 32767).astype(SAMPLE_DTYPE)
        minus.update({speakers[i]: row.tobytes() for i, row in zip(talking, others, strict=True)})
    levels = dict(zip(speakers, levels_of(voices).tolist(), strict=True))
    return MixResult(mix, minus, levels, frames)
