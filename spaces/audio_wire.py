"""Protocol v2 of the audio socket: every binary message starts with a small header.

v1 sends bare 640-byte PCM frames; v2 (chosen at connect: `?v=2&codec=opus`) wraps one or more
Opus packets in a message that says which frames they are (a sequence number, so a client sees
loss) and when they were captured and mixed (milliseconds of the wall clock, so a client on the
same clock, such as the benchmark, measures latency although the bytes are no longer bit-exact).
Levels ride in the same message every 100 ms, in bytes rather than JSON text.

docs/audio-protocol.md is the reference; the terminal client keeps its own copy
(spaces/cli/protocol.py) and tests/test_cli_protocol.py checks that the two agree. No numpy.
"""

import struct
import time
from dataclasses import dataclass, field

VERSION = 2
KIND_AUDIO = 1
FLAG_LEVELS = 0x01  # a levels block follows the frames
# version, kind, frame count, flags, sequence number of the first frame, capture ms, mix ms
HEADER = struct.Struct("!BBBBIII")
FRAME_LENGTH = struct.Struct("!H")  # before every frame's bytes
LEVEL = struct.Struct("!IB")  # user id, level 0..255 (0 silence, 255 full scale)
MAX_FRAMES = 50  # per message: a second of audio


@dataclass
class Message:
    """One v2 audio message. `capture_ms` is the earliest capture time of any voice in it (0: none
    or unknown); `mix_ms` when the server mixed its first frame (0 from a client)."""

    frames: list[bytes]
    seq: int
    capture_ms: int = 0
    mix_ms: int = 0
    levels: dict[int, float] | None = field(default=None)


def clock_ms(at: float | None = None) -> int:
    """Wall-clock milliseconds modulo 2**32: the header's timestamps (they wrap every 49 days;
    compare them modulo 2**32 too)."""
    return int((time.time() if at is None else at) * 1000) & 0xFFFFFFFF


def age_ms(stamp: int, now: int | None = None) -> int:
    """Milliseconds from a header timestamp to now, across the wrap."""
    now = clock_ms() if now is None else now
    return (now - stamp) & 0xFFFFFFFF


def pack(message: Message) -> bytes:
    levels = message.levels
    flags = FLAG_LEVELS if levels is not None else 0
    parts = [
        HEADER.pack(
            VERSION,
            KIND_AUDIO,
            len(message.frames),
            flags,
            message.seq & 0xFFFFFFFF,
            message.capture_ms & 0xFFFFFFFF,
            message.mix_ms & 0xFFFFFFFF,
        )
    ]
    for frame in message.frames:
        parts += (FRAME_LENGTH.pack(len(frame)), frame)
    if levels is not None:
        parts.append(pack_levels(levels))
    return b"".join(parts)


def pack_levels(levels: dict[int, float]) -> bytes:
    """A levels block: a count, then each speaker's id and level in one byte."""
    items = list(levels.items())[:255]
    return bytes([len(items)]) + b"".join(
        LEVEL.pack(uid, max(0, min(255, round(v * 255)))) for uid, v in items
    )


def unpack(data: bytes) -> Message:
    """A v2 message; ValueError when it is not one."""
    if len(data) < HEADER.size:
        raise ValueError("shorter than the header")
    version, kind, count, flags, seq, capture, mix = HEADER.unpack_from(data)
    if version != VERSION or kind != KIND_AUDIO:
        raise ValueError(f"not a v2 audio message (version {version}, kind {kind})")
    if count > MAX_FRAMES:
        raise ValueError(f"{count} frames in one message")
    at = HEADER.size
    frames = []
    for _ in range(count):
        if at + FRAME_LENGTH.size > len(data):
            raise ValueError("cut inside a frame length")
        (n,) = FRAME_LENGTH.unpack_from(data, at)
        at += FRAME_LENGTH.size
        if at + n > len(data):
            raise ValueError("cut inside a frame")
        frames.append(bytes(data[at : at + n]))
        at += n
    levels = None
    if flags & FLAG_LEVELS:
        if at >= len(data):
            raise ValueError("levels announced but missing")
        n = data[at]
        at += 1
        if at + n * LEVEL.size > len(data):
            raise ValueError("cut inside the levels")
        levels = {}
        for _ in range(n):
            uid, value = LEVEL.unpack_from(data, at)
            levels[uid] = value / 255
            at += LEVEL.size
    if at != len(data):
        raise ValueError("bytes after the message")
    return Message(frames, seq, capture, mix, levels)
