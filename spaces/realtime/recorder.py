"""The room mix, recorded for review as Ogg/Opus through libsndfile (soundfile).

Ogg is written page by page, so a flush every second leaves a file that plays up to the last
second or so even after `kill -9`. A write error (a full disk) stops the recording, keeps the
Space running, and is reported through `error` for admins.
"""

import contextlib
import logging
import os
import threading
from pathlib import Path

import soundfile as sf

from ..audio_format import FRAME_SECONDS, SAMPLE_RATE

log = logging.getLogger(__name__)
FLUSH_EVERY = 50  # frames (1 s)


class Recorder:
    """Appends 20 ms frames of the room mix. `start_offset` is this file's place in the Space's
    timeline (seconds since it started), so captions and review can point into it."""

    def __init__(self, path: Path, start_offset: float = 0.0) -> None:
        self.path = path
        self.start_offset = start_offset
        self.frames = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created private first; libsndfile then opens the file by name and keeps its mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._file = sf.SoundFile(
                str(path), "w", samplerate=SAMPLE_RATE, channels=1, format="OGG", subtype="OPUS"
            )
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            self._fail(exc)

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SECONDS

    def write(self, frame: bytes) -> None:
        if self.error:
            return
        with self._lock:
            if self._file.closed:  # the room ended or the server is stopping: not an error
                return
            try:
                self._file.buffer_write(frame, dtype="int16")
                self.frames += 1
                if self.frames % FLUSH_EVERY == 0:
                    self._file.flush()
            except (OSError, RuntimeError, sf.LibsndfileError) as exc:
                self._fail(exc)

    def close(self) -> None:
        with self._lock:
            f = getattr(self, "_file", None)
            if f is not None and not f.closed:
                try:
                    f.close()
                except (OSError, RuntimeError, sf.LibsndfileError) as exc:
                    self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.error = f"Recording stopped: {self._reason(exc)}"
        log.error("recording %s failed: %s", self.path, self.error)

    def _reason(self, exc: Exception) -> str:
        """libsndfile reports a failed write only as "System error."; its message for this file
        keeps the cause ("System error : No space left on device."), which admins need."""
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        f = getattr(self, "_file", None)
        if isinstance(exc, sf.LibsndfileError) and f is not None:
            with contextlib.suppress(Exception):  # soundfile's private API: it may change
                detail = sf._ffi.string(sf._snd.sf_strerror(f._file)).decode()
                reason = detail.removeprefix("System error : ").rstrip(".") or reason
        return reason
