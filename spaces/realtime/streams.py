"""What v2 (Opus) clients receive each tick: one encode of the mix for all listeners, one per
speaker for their mix-minus.

Listeners are not in the conversation, so their messages carry LISTENER_FRAMES frames each: the
first frame of a message waits (LISTENER_FRAMES - 1) x 20 ms longer than it would alone, and the
server sends a third of the messages (each send wakes a client and costs a system call; that,
not the bytes, limits how many listeners one node carries). Speakers talk back, so their
mix-minus stays one 20 ms frame per message. Levels ride in the next message after they change.
"""

from collections.abc import Iterable

from ..audio_wire import Message, age_ms, clock_ms, pack
from .mixer import MixResult
from .opus import OpusEncoder
from .outbox import frame

LISTENER_FRAMES = 3  # frames per message to a v2 listener: at most 40 ms of added delay


class Captured(bytes):
    """A speaker's PCM frame with the capture time its v2 header gave. The jitter buffer and the
    mixer pass frames on untouched, so the stamp reaches the headers of the mix it is in."""

    capture_ms: int = 0

    @classmethod
    def of(cls, pcm: bytes, capture_ms: int) -> "Captured":
        captured = cls(pcm)
        captured.capture_ms = capture_ms
        return captured


def earliest(frames: Iterable[bytes], now: int) -> int:
    """The oldest capture stamp among frames (0 when none has one): a message's latency is that
    of its oldest voice."""
    stamps = [s for s in (getattr(f, "capture_ms", 0) for f in frames) if s]
    return max(stamps, key=lambda s: age_ms(s, now)) if stamps else 0


class OpusStreams:
    """One room's encoders and the listeners' message being filled. Used by the tick only."""

    def __init__(self, frames_per_message: int = LISTENER_FRAMES) -> None:
        self.frames_per_message = frames_per_message
        self.encoder = OpusEncoder()
        self.minus: dict[int, OpusEncoder] = {}  # connection id -> that speaker's encoder
        self._batch: list[bytes] = []
        self._seq = self._mix_ms = 0
        self._voices: list[bytes] = []
        self._levels: dict[int, float] | None = None

    @property
    def header(self) -> bytes:
        return self.encoder.header

    def forget(self, conn_id: int) -> None:
        self.minus.pop(conn_id, None)

    def tick(self, seq: int, result: MixResult, levels, conns: list, stage: set[int]):
        """Encodes this tick's mix and sends each v2 speaker their mix-minus. Answers the mix's
        packet (for the recording) and, every `frames_per_message` ticks, the listeners' message
        (a websocket frame), which the caller fans out after every speaker has had theirs."""
        mix_ms = clock_ms()
        packet = self.encoder.encode(result.mix)
        for conn in conns:
            if conn.codec == "opus" and conn.user_id in stage and not conn.relayed:
                self._send_minus(conn, seq, result, levels, mix_ms)
        if not self._batch:
            self._seq, self._mix_ms, self._voices = seq, mix_ms, []
        self._batch.append(packet)
        self._voices += result.frames.values()
        if levels is not None:
            self._levels = levels
        if len(self._batch) < self.frames_per_message:
            return packet, None
        message = Message(
            self._batch, self._seq, earliest(self._voices, mix_ms), self._mix_ms, self._levels
        )
        self._batch, self._levels = [], None
        return packet, frame(pack(message))

    def _send_minus(self, conn, seq: int, result: MixResult, levels, mix_ms: int) -> None:
        encoder = self.minus.get(conn.id)
        if encoder is None:
            encoder = self.minus[conn.id] = OpusEncoder()
        pcm = result.minus.get(conn.user_id, result.mix)
        others = [f for uid, f in result.frames.items() if uid != conn.user_id]
        message = Message([encoder.encode(pcm)], seq, earliest(others, mix_ms), mix_ms, levels)
        conn.outbox.push(frame(pack(message)))
