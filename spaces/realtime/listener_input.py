"""What a listener sends on an audio socket the relay process reads (relay_process.py).

Nothing a listener sends is used (they are not on stage), so the relay only honours the protocol:
a close is answered and ends the socket, a ping gets its pong, a message over the size limit is
closed with 1009 as simple-websocket does on the core, and a client past a rate of frames (of any
kind: pings and empty fragments cost the relay as much) is closed with 1008 rather than read for
ever. wsproto (simple-websocket's own parser) reads the frames: unmasked, malformed or invalid ones
close with its code (1002, 1007).
"""

from dataclasses import dataclass

from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode, ParseFailed, RsvBits

from .message_rate import POLICY_VIOLATION, MessageRate
from .outbox import frame

READ_BYTES = 4096
# Twice a speaker's pace: a listener sends nothing the server uses, but a client that has just
# lost the stage may still send frames for a moment (they are dropped, as on the core).
FRAMES_PER_SECOND = 100
TOO_BIG = 1009


class DeflateUnread(Extension):
    """permessage-deflate, which simple-websocket agrees to whenever a browser offers it: a
    listener's compressed frames (RSV1 set) are read, never inflated, as nothing of them is used
    (the core inflates them and drops them)."""

    name = "permessage-deflate"

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(self, proto, opcode, rsv, payload_length) -> RsvBits:
        return RsvBits(rsv.rsv1, False, False)


@dataclass
class Verdict:
    """What the relay does after a read: `reply` frames to push, then a close (code, reason) or,
    with `gone`, nothing more to write (the client hung up)."""

    reply: list[bytes]
    close: tuple[int, str] | None = None
    gone: bool = False

    @property
    def over(self) -> bool:
        return self.gone or self.close is not None


class ListenerInput:
    """One listener socket's incoming bytes, fed as they arrive."""

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self.frames = FrameProtocol(client=False, extensions=[DeflateUnread()])
        self.rate = MessageRate(FRAMES_PER_SECOND)
        self.size = 0  # bytes of the message being received

    def feed(self, data: bytes) -> Verdict:
        if not data:
            return Verdict([], gone=True)
        verdict = Verdict([])
        self.frames.receive_bytes(data)
        try:
            for f in self.frames.received_frames():
                if f.opcode is Opcode.CLOSE:
                    code, reason = f.payload
                    code = 1000 if code == CloseReason.NO_STATUS_RCVD else int(code)
                    verdict.close = (code, reason)
                    return verdict
                if f.frame_finished and not self.rate.allow():
                    verdict.close = (POLICY_VIOLATION, "too many messages")
                    return verdict
                if f.opcode is Opcode.PING:
                    verdict.reply.append(frame(bytes(f.payload), int(Opcode.PONG)))
                elif f.opcode is not Opcode.PONG:
                    self.size += len(f.payload)
                    if self.size > self.max_message:
                        verdict.close = (TOO_BIG, "message too big")
                        return verdict
                    if f.message_finished:
                        self.size = 0
        except ParseFailed as error:
            verdict.close = (int(error.code), str(error)[:100])
        return verdict
