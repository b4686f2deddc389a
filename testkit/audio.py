"""Sound for tests and benches: the audio frame format, tones, and real speech from the WAVs in
../shared/audio (16 kHz mono), cut into the frames the audio socket carries.

The frame format is the server's own (spaces/audio_format.py), re-exported here so tests and
benches take everything about sound from one place.
"""

from pathlib import Path

import numpy as np
import soundfile

from spaces.audio_format import FRAME_BYTES, FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, SILENCE

__all__ = [  # the format is the server's, re-exported so tests take all sound from here
    "FRAME_BYTES",
    "FRAME_SAMPLES",
    "FRAME_SECONDS",
    "SAMPLE_RATE",
    "SILENCE",
    "SHARED_AUDIO",
    "AUDIBLE",
    "tone",
    "tone_frames",
    "frames_of",
    "wav_samples",
    "speech",
    "magnitude",
    "silent",
    "hushed",
    "audible",
]

SHARED_AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"
AUDIBLE = 64  # a frame with a sample beyond this is sound, not silence


def tone(freq: float, amplitude: float = 8000) -> bytes:
    """One frame of a sine; multiples of 50 Hz fit a 20 ms frame exactly (FFT bin freq / 50), so
    the same frame sent again and again is one continuous tone."""
    t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def tone_frames(seconds: float, freq: float = 440.0, amplitude: float = 8000) -> list[bytes]:
    """A continuous sine of any frequency, cut into frames."""
    count = round(seconds * SAMPLE_RATE / FRAME_SAMPLES)
    t = np.arange(count * FRAME_SAMPLES) / SAMPLE_RATE
    return frames_of(np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2"))


def frames_of(samples: np.ndarray) -> list[bytes]:
    """Whole frames of int16 samples (a partial last frame is left out)."""
    usable = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
    return [f.tobytes() for f in samples[:usable].astype("<i2").reshape(-1, FRAME_SAMPLES)]


def wav_samples(name: str) -> np.ndarray:
    """A WAV of ../shared/audio by its stem (`jfk`, `sample01` ...) as int16 samples."""
    data, rate = soundfile.read(SHARED_AUDIO / f"{name}.wav", dtype="int16")
    assert rate == SAMPLE_RATE, rate
    return data if data.ndim == 1 else data[:, 0]


def speech(which: int | str, peak: int | None = None) -> list[bytes]:
    """Real speech as frames: a WAV by stem, or the index-th of them in name order (a speaker
    number; a second round of speakers starts each file half-way, so no two sound alike).
    With `peak`, scaled so its loudest sample is that."""
    if isinstance(which, str):
        data = wav_samples(which)
    else:
        names = sorted(p.stem for p in SHARED_AUDIO.glob("*.wav"))
        data = wav_samples(names[which % len(names)])
        start = (which // len(names)) * len(data) // 2
        data = np.concatenate([data[start:], data[:start]])
    if peak is not None:
        top = max(1, int(np.abs(data.astype(np.int32)).max()))
        data = (data.astype(np.float64) * (peak / top)).astype("<i2")
    return frames_of(data)


def magnitude(frame: bytes, freq: float) -> float:
    """The amplitude of a multiple-of-50-Hz sine in one frame."""
    spectrum = np.abs(np.fft.rfft(np.frombuffer(frame, dtype="<i2").astype(np.float64)))
    return float(spectrum[int(freq / 50)] / (FRAME_SAMPLES / 2))


def silent(frame: bytes) -> bool:
    return not np.frombuffer(frame, dtype="<i2").any()


def hushed(frame: bytes) -> bool:
    """No sample beyond AUDIBLE: silence as a lossy codec (Opus) gives it back."""
    return int(np.abs(np.frombuffer(frame, dtype="<i2").astype(np.int32)).max()) <= AUDIBLE


def audible(frame: bytes) -> bool:
    """A whole frame with a sample louder than AUDIBLE."""
    if len(frame) != FRAME_BYTES:
        return False
    return int(np.abs(np.frombuffer(frame, dtype="<i2").astype(np.int32)).max()) > AUDIBLE
