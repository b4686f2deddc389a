"""The room mix, recorded for review as Ogg/Opus: the packets the room's encoder already made for
listeners go straight into the file through PyAV's Ogg muxer, with no second encode.

Ogg is written page by page (a page every half second) and every finished page is flushed to the
file at once, so after `kill -9` the file plays up to the last page written: at most a second is
lost. A write error (a full disk) stops the
recording, keeps the Space running, and is reported through `error` for admins.
"""

import logging
import os
import threading
from fractions import Fraction
from pathlib import Path

import av

from ..audio_format import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, frames_of
from .opus import OpusEncoder

log = logging.getLogger(__name__)
PAGE_MICROSECONDS = 500_000  # an Ogg page every 0.5 s; the muxer holds back the last one,
# so kill -9 loses 0.5 to 1 s
PACKET_TIME_BASE = Fraction(1, SAMPLE_RATE)


def _private(path: str, flags: int) -> int:
    """Recordings are created readable by the server's user only."""
    return os.open(path, flags, 0o600)


class Recorder:
    """Appends Opus packets of 20 ms of the room mix. `start_offset` is this file's place in the
    Space's timeline (seconds since it started), so captions and review can point into it.
    `header` is the OpusHead of the encoder whose packets come (OpusEncoder.header)."""

    def __init__(self, path: Path, start_offset: float = 0.0, header: bytes | None = None) -> None:
        self.path = path
        self.start_offset = start_offset
        self.frames = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self._encoder: OpusEncoder | None = None  # only for write(pcm)
        self._out = self._file = None
        if header is None:
            self._encoder = OpusEncoder()
            header = self._encoder.header
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Opened by name (bench/enospc fills the disk of `*.ogg` files it sees opened).
            self._file = open(path, "wb", buffering=0, opener=_private)  # noqa: SIM115
            self._out = av.open(
                self._file,
                "w",
                format="ogg",
                options={"flush_packets": "1", "page_duration": str(PAGE_MICROSECONDS)},
            )
            self._stream = self._out.add_stream("libopus", rate=SAMPLE_RATE)
            self._stream.codec_context.layout = "mono"
            self._stream.codec_context.extradata = header
        except (OSError, av.FFmpegError) as exc:
            self._fail(exc)

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SECONDS

    def write_packet(self, packet: bytes) -> None:
        """One Opus packet (20 ms) of the room encoder."""
        if self.error:
            return
        with self._lock:
            if self._out is None:  # the room ended or the server is stopping: not an error
                return
            try:
                out = av.Packet(packet)
                out.stream = self._stream
                out.time_base = PACKET_TIME_BASE
                out.pts = out.dts = self.frames * FRAME_SAMPLES
                out.duration = FRAME_SAMPLES
                self._out.mux(out)
                self.frames += 1
            except (OSError, av.FFmpegError) as exc:
                self._fail(exc)

    def write(self, pcm: bytes) -> None:
        """PCM of the room's format (whole 20 ms frames, or a last one padded with silence),
        encoded by the recorder's own encoder: for tools and tests; the relay hands over its
        packets with write_packet."""
        if self._encoder is None:
            raise ValueError("this recorder takes the packets of another encoder")
        for frame in frames_of(pcm):
            if self.error:
                return
            self.write_packet(self._encoder.encode(frame))

    def close(self) -> None:
        with self._lock:
            out, self._out = self._out, None
            try:
                if out is not None and not self.error:
                    out.close()
            except (OSError, av.FFmpegError) as exc:
                self._fail(exc)
            finally:
                if self._file is not None:
                    self._file.close()

    def _fail(self, exc: Exception) -> None:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.error = f"Recording stopped: {reason}"
        log.error("recording %s failed: %s", self.path, self.error)
