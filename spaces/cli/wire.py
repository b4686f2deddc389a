"""What goes over the audio socket in each format: v1 bare PCM frames, or v2 Opus packets behind
the header (docs/audio-protocol.md), encoded and decoded with PyAV's bundled libopus.

The client's own copy of the server's wire (spaces/audio_wire.py and spaces/realtime/opus.py):
tests/test_cli_protocol.py checks that each side reads what the other writes.
"""

import struct
import time

import av
import numpy as np

from .protocol import (
    FLAG_LEVELS,
    FRAME_BYTES,
    FRAME_LENGTH_FORMAT,
    FRAME_SAMPLES,
    HEADER_FORMAT,
    KIND_AUDIO,
    LEVEL_FORMAT,
    OPUS_BITRATE,
    SAMPLE_DTYPE,
    SAMPLE_RATE,
    V2_QUERY,
    VERSION,
)

HEADER = struct.Struct(HEADER_FORMAT)
FRAME_LENGTH = struct.Struct(FRAME_LENGTH_FORMAT)
LEVEL = struct.Struct(LEVEL_FORMAT)


def clock_ms() -> int:
    return int(time.time() * 1000) & 0xFFFFFFFF


def pack(packets: list[bytes], seq: int, capture_ms: int = 0, mix_ms: int = 0) -> bytes:
    head = HEADER.pack(VERSION, KIND_AUDIO, len(packets), 0, seq, capture_ms, mix_ms)
    return head + b"".join(FRAME_LENGTH.pack(len(p)) + p for p in packets)


def unpack(data: bytes) -> tuple[list[bytes], int, dict[int, float] | None]:
    """(packets, seq, levels) of a v2 message; ValueError when it is not one."""
    if len(data) < HEADER.size:
        raise ValueError("shorter than the header")
    version, kind, count, flags, seq, _capture, _mix = HEADER.unpack_from(data)
    if (version, kind) != (VERSION, KIND_AUDIO):
        raise ValueError("not a v2 audio message")
    at, packets = HEADER.size, []
    for _ in range(count):
        (n,) = FRAME_LENGTH.unpack_from(data, at)
        packets.append(bytes(data[at + 2 : at + 2 + n]))
        at += 2 + n
    levels = None
    if flags & FLAG_LEVELS:
        levels = {}
        for i in range(data[at]):
            uid, value = LEVEL.unpack_from(data, at + 1 + i * LEVEL.size)
            levels[uid] = value / 255
    return packets, seq, levels


class PcmWire:
    """v1: a frame is the message."""

    query = ""

    def outgoing(self, pcm: bytes) -> bytes:
        return pcm

    def incoming(self, data: bytes) -> tuple[list[bytes], dict[int, float] | None]:
        return ([data] if len(data) == FRAME_BYTES else []), None


class OpusWire:
    """v2: 20 ms frames to Opus packets and back (16 kHz mono, speech-tuned), with headers."""

    query = V2_QUERY

    def __init__(self) -> None:
        encoder = av.CodecContext.create("libopus", "w")
        encoder.sample_rate, encoder.layout, encoder.format = SAMPLE_RATE, "mono", "s16"
        encoder.bit_rate = OPUS_BITRATE
        encoder.options = {"application": "voip", "frame_duration": "20"}
        encoder.open()
        decoder = av.CodecContext.create("libopus", "r")
        decoder.sample_rate, decoder.layout = 48_000, "mono"  # FFmpeg's libopus gives 48 kHz
        decoder.open()
        self._encoder, self._decoder = encoder, decoder
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._pending = b""
        self._seq = 0

    def outgoing(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype=SAMPLE_DTYPE).reshape(1, FRAME_SAMPLES)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = SAMPLE_RATE, self._seq * FRAME_SAMPLES
        self._seq += 1
        packet = b"".join(bytes(p) for p in self._encoder.encode(frame))
        return pack([packet], self._seq, clock_ms())

    def incoming(self, data: bytes) -> tuple[list[bytes], dict[int, float] | None]:
        """The PCM frames and levels of one message (a message that is not v2 gives none)."""
        try:
            packets, _seq, levels = unpack(data)
            pcm = b"".join(
                out.to_ndarray().tobytes()
                for packet in packets
                for frame in self._decoder.decode(av.Packet(packet))
                for out in self._resampler.resample(frame)
            )
        except (ValueError, struct.error, IndexError, av.FFmpegError):
            return [], None
        data = self._pending + pcm
        whole = len(data) // FRAME_BYTES * FRAME_BYTES
        self._pending = data[whole:]
        return [data[i : i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES)], levels


def wire_for(pcm: bool) -> PcmWire | OpusWire:
    return PcmWire() if pcm else OpusWire()
