"""Opus (RFC 6716) for the room's 20 ms frames, through PyAV's bundled libopus.

An encoder turns each 640-byte PCM frame (spaces/audio_format.py) into one packet, tuned for
speech (`application=voip`, BITRATE); a decoder turns packets back into 640-byte frames. FFmpeg's
libopus decoder always hands back 48 kHz, so it is resampled to 16 kHz here. PyAV releases the GIL
while it codes, so a socket thread decoding does not hold up the tick.
"""

import logging

import av
import numpy as np

from ..audio_format import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_DTYPE, SAMPLE_RATE

log = logging.getLogger(__name__)

BITRATE = 24_000  # bit/s asked of the encoder; speech at 16 kHz comes out near 20 kbit/s
# libopus's effort per frame, 0-10 (its default is 10). Measured on ../shared/audio (bench/
# opus_complexity.py): 3 encodes in about half the time of 10 with the same word error rate, and
# a room encodes its mix and up to 11 mix-minus streams on every 20 ms tick.
COMPLEXITY = 3
MAX_PACKET = 1275  # bytes: the largest packet Opus makes for one frame (RFC 6716, 3.2.1)


class OpusEncoder:
    """PCM frames in, one Opus packet out per frame (libopus returns it at once)."""

    def __init__(self, bitrate: int = BITRATE, complexity: int = COMPLEXITY) -> None:
        ctx = av.CodecContext.create("libopus", "w")
        ctx.sample_rate = SAMPLE_RATE
        ctx.layout = "mono"
        ctx.format = "s16"
        ctx.bit_rate = bitrate
        ctx.options = {
            "application": "voip",
            "frame_duration": "20",
            "compression_level": str(complexity),
        }
        ctx.open()
        self._ctx = ctx
        self._pts = 0

    @property
    def header(self) -> bytes:
        """The stream's OpusHead (what an Ogg file needs before the packets)."""
        return bytes(self._ctx.extradata)

    def encode(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype=SAMPLE_DTYPE).reshape(1, FRAME_SAMPLES)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += FRAME_SAMPLES
        return b"".join(bytes(p) for p in self._ctx.encode(frame))


class OpusDecoder:
    """Opus packets in, 640-byte PCM frames out. The resampler holds back a few samples, so a
    packet gives zero, one or (rarely) two frames; over a stream it is one each."""

    def __init__(self) -> None:
        ctx = av.CodecContext.create("libopus", "r")
        ctx.sample_rate = 48_000
        ctx.layout = "mono"
        ctx.open()
        self._ctx = ctx
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._pending = b""
        self.errors = 0

    def decode(self, packet: bytes) -> list[bytes]:
        """The frames this packet completes; a packet that is not Opus gives none (counted)."""
        if not packet or len(packet) > MAX_PACKET:
            self.errors += 1
            return []
        try:
            decoded = self._ctx.decode(av.Packet(packet))
            pcm = b"".join(
                bytes(out.to_ndarray().tobytes())
                for frame in decoded
                for out in self._resampler.resample(frame)
            )
        except (av.FFmpegError, ValueError):
            self.errors += 1
            return []
        data = self._pending + pcm
        whole = len(data) // FRAME_BYTES * FRAME_BYTES
        self._pending = data[whole:]
        return [data[i : i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES)]
