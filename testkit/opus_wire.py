"""A v2 client's side of the wire (docs/audio-protocol.md): PCM frames out as Opus packets with a
header, messages in as PCM frames, with every header kept for the figures (loss, latency)."""

import time
from dataclasses import dataclass

from spaces.audio_wire import Message, clock_ms, pack, unpack
from spaces.realtime.opus import COMPLEXITY, OpusDecoder, OpusEncoder

V2_QUERY = "v=2&codec=opus"


@dataclass
class Received:
    """One v2 message as it arrived: when, its header's figures, how many frames."""

    at: float  # time.monotonic()
    at_ms: int  # the wall clock, as the header's stamps
    seq: int
    frames: int
    capture_ms: int
    mix_ms: int
    levels: dict[int, float] | None


class OpusWire:
    """Encodes what a Mouth sends and decodes what an Ear receives; one per socket. With
    `decode=False` an Ear gets the Opus packets themselves: a crowd of listeners whose figures
    are in the headers (sequence numbers, capture times) need not pay for decoding."""

    def __init__(self, decode: bool = True) -> None:
        self.encoder = OpusEncoder()
        self.decoder = OpusDecoder()
        self.decode = decode
        self.seq = 0
        self.received: list[Received] = []
        self.lost = 0  # frames missing between sequence numbers

    def outgoing(self, pcm: bytes) -> bytes:
        self.seq += 1
        return pack(Message([self.encoder.encode(pcm)], self.seq, clock_ms()))

    def incoming(self, data: bytes) -> list[bytes]:
        """The PCM frames of one message, or its packets (`decode=False`); raises ValueError for
        a message that is not v2."""
        message = unpack(data)
        if self.received:
            last = self.received[-1]
            gap = (message.seq - last.seq - last.frames) & 0xFFFFFFFF
            self.lost += gap if gap < 2**31 else 0  # a step back: a reconnect, not a loss
        self.received.append(
            Received(
                time.monotonic(),
                clock_ms(),
                message.seq,
                len(message.frames),
                message.capture_ms,
                message.mix_ms,
                message.levels,
            )
        )
        if not self.decode:
            return list(message.frames)
        return [pcm for packet in message.frames for pcm in self.decoder.decode(packet)]


def round_trip(
    frames: list[bytes], complexity: int = COMPLEXITY
) -> tuple[bytes, list[bytes], float]:
    """Frames through the product's encoder and decoder: what a listener decodes, the packets
    sent, and the seconds spent encoding (the server's share, per frame it is what a tick pays)."""
    encoder, decoder = OpusEncoder(complexity=complexity), OpusDecoder()
    packets, spent = [], 0.0
    for pcm in frames:
        started = time.perf_counter()
        packets.append(encoder.encode(pcm))
        spent += time.perf_counter() - started
    out = b"".join(f for p in packets for f in decoder.decode(p))
    return out, packets, spent
