"""Audio files: any file soundfile reads, as 16 kHz mono 16-bit frames; WAV recordings out."""

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .exits import CliError
from .protocol import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    LEVEL_FLOOR_DBFS,
    SAMPLE_DTYPE,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Float samples from `rate_in` to `rate_out`: a windowed-sinc low-pass when going down
    (no aliasing), then linear interpolation."""
    if rate_in == rate_out or samples.size == 0:
        return samples
    x = samples.astype(np.float64)
    if rate_out < rate_in:
        cutoff = 0.45 * rate_out / rate_in  # cycles per input sample, under the new Nyquist
        n = np.arange(-64, 65)
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(n.size)
        taps /= taps.sum()
        x = _fft_convolve(x, taps)
    count = int(round(x.size * rate_out / rate_in))
    positions = np.arange(count) * (rate_in / rate_out)
    return np.interp(positions, np.arange(x.size), x)


def _fft_convolve(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """np.convolve(x, taps, 'same'), by FFT (fast on long files)."""
    size = x.size + taps.size - 1
    n = 1 << (size - 1).bit_length()
    full = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(taps, n), n)[:size]
    start = (taps.size - 1) // 2
    return full[start : start + x.size]


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian signed 16-bit, clipped (never wrapped)."""
    scaled = np.clip(np.round(samples * 32767.0), -32768, 32767)
    return scaled.astype(SAMPLE_DTYPE).tobytes()


def load_frames(path: str | Path) -> list[bytes]:
    """Reads an audio file (WAV, FLAC, Ogg...), downmixes to mono, resamples to 16 kHz and cuts
    it into 640-byte frames (the last one padded with silence)."""
    import soundfile as sf  # deferred: only `speak --file` reads audio files (libsndfile)

    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise CliError(f"Cannot read {path}: {exc}") from exc
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    pcm = to_pcm16(resample(mono, rate))
    if not pcm:
        raise CliError(f"{path} holds no audio.")
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def frames_forever(frames: list[bytes], loop: bool) -> Iterator[bytes]:
    while True:
        yield from frames
        if not loop:
            return


class WavWriter:
    """16 kHz mono 16-bit WAV, written frame by frame."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file = wave.open(str(self.path), "wb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise CliError(f"Cannot write {path}: {exc}") from exc
        self._file.setnchannels(1)
        self._file.setsampwidth(SAMPLE_WIDTH)
        self._file.setframerate(SAMPLE_RATE)
        self.frames = 0

    def write(self, frame: bytes) -> None:
        try:
            self._file.writeframes(frame)
        except OSError as exc:
            raise CliError(f"Cannot write {self.path}: {exc}") from exc
        self.frames += 1

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SAMPLES / SAMPLE_RATE

    def close(self) -> None:
        self._file.close()


def frame_level(frame: bytes) -> float:
    """Loudness of one frame from 0 to 1, on the scale of the server's levels messages, so the
    meter reads the same for what you hear and for what the server says it hears."""
    samples = np.frombuffer(frame, dtype=SAMPLE_DTYPE).astype(np.float64)
    if samples.size == 0:
        return 0.0
    dbfs = 10 * np.log10(max(float(np.mean(samples**2)), 1e-12) / 32768.0**2)
    return float(np.clip(1 - dbfs / LEVEL_FLOOR_DBFS, 0.0, 1.0))
