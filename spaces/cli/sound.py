"""Microphone and speaker through PyAudio, imported only when one is used (the `cli` extra)."""

import threading
from collections import deque

from .exits import CliError
from .protocol import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE

PLAYBACK_PREFILL = 3  # frames (60 ms) buffered before playing, absorbing network jitter
PLAYBACK_MAX = 8  # frames (160 ms); older ones are dropped so the delay never grows


def _pyaudio():
    try:
        import pyaudio
    except ImportError as exc:
        raise CliError(
            "Playing or capturing sound needs PyAudio: pip install 'spaces[cli]' "
            "(on Debian, apt install portaudio19-dev first). "
            "Without a sound device, use --out file.wav or --file speech.wav."
        ) from exc
    return pyaudio


class _Stream:
    """One PyAudio stream of 20 ms frames at 16 kHz mono, and the PyAudio instance it needs."""

    def __init__(self, failure: str, **direction) -> None:
        pyaudio = _pyaudio()
        self._continue = pyaudio.paContinue
        self._audio = pyaudio.PyAudio()
        try:
            self._stream = self._audio.open(
                format=pyaudio.paInt16,
                channels=1,
                rate=SAMPLE_RATE,
                frames_per_buffer=FRAME_SAMPLES,
                **direction,
            )
        except (OSError, ValueError) as exc:
            self._audio.terminate()
            raise CliError(failure.format(exc=exc)) from exc

    def close(self) -> None:
        try:
            self._stream.stop_stream()
            self._stream.close()
        finally:
            self._audio.terminate()


class Speaker(_Stream):
    """Plays 20 ms frames as they arrive, through a small jitter buffer: silence on underrun,
    the oldest frames dropped on overrun."""

    def __init__(self) -> None:
        self._frames: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._playing = False
        self.frames = 0
        super().__init__(
            "Cannot open the speaker: {exc}", output=True, stream_callback=self._callback
        )

    def _callback(self, _in, count, _time, _status):
        wanted = count * 2
        out = bytearray()
        with self._lock:
            if not self._playing and len(self._frames) >= PLAYBACK_PREFILL:
                self._playing = True
            while self._playing and len(out) < wanted:
                if not self._frames:
                    self._playing = False  # underrun: refill before playing again
                    break
                frame = self._frames.popleft()
                take = wanted - len(out)
                out += frame[:take]
                if len(frame) > take:
                    self._frames.appendleft(frame[take:])
        out += bytes(wanted - len(out))
        return bytes(out), self._continue

    def write(self, frame: bytes) -> None:
        with self._lock:
            self._frames.append(frame)
            while len(self._frames) > PLAYBACK_MAX:
                self._frames.popleft()
        self.frames += 1

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SAMPLES / SAMPLE_RATE


class Microphone(_Stream):
    """20 ms frames from the default input device at 16 kHz mono; reading blocks, so the device's
    clock paces the stream."""

    def __init__(self) -> None:
        super().__init__(
            "Cannot open the microphone: {exc}. Check that one is connected and allowed.",
            input=True,
        )

    def read(self) -> bytes:
        data = self._stream.read(FRAME_SAMPLES, exception_on_overflow=False)
        return bytes(data[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
