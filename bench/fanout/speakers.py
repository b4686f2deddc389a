"""The speakers: one process streams every speaker's speech at real-time pace; speaker 0 (the
host) also sends the marked bursts. With Opus (v2) each speaker's speech is encoded once up
front and each packet goes out behind a header stamped with its send time; what comes back (each
speaker's mix-minus) is read for its age, the speakers' latency."""

import contextlib
import multiprocessing
import select
import time

from spaces.audio_wire import HEADER, Message, age_ms, clock_ms, pack
from spaces.realtime.opus import OpusEncoder
from testkit.audio import FRAME_SECONDS, speech
from testkit.websocket import BINARY, CLOSE, WebSocket, masked, read_frames

from .bursts import SPEECH_PEAK, marker_payload


class Speakers:
    """The speaker process, as a context manager: started on entry, stopped on exit.
    targets: (path, Cookie header) per speaker; without them, the process is started and loaded,
    and `connect(targets)` opens the sockets later. A Space's presence grace period starts at
    joining, so the speakers join once the process is ready rather than while it starts."""

    def __init__(
        self, port: int, targets: list[tuple[str, str]] | None = None, v2: bool = False
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=speaker_process, args=(theirs, port, v2), daemon=True)
        self.proc.start()
        theirs.close()  # so that the process's end shows here as EOF, not a wait for ever
        self._expect("loaded")
        if targets is not None:
            self.connect(targets)

    def connect(self, targets: list[tuple[str, str]]) -> None:
        self.pipe.send(targets)
        self._expect("ready")

    def _expect(self, what: str) -> tuple:
        try:
            reply = self.pipe.recv()
        except EOFError:
            raise RuntimeError(f"the speaker process ended before it was {what}") from None
        if reply[0] != what:
            raise RuntimeError(reply)
        return reply

    def __enter__(self) -> "Speakers":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def sends(self):
        """(every burst sent so far as (seq, id, time), times the speaker fell behind, its CPU,
        v2: the age of every mix-minus message received as (arrival, ms))."""
        self.pipe.send("sends")
        reply = self.pipe.recv()
        if not isinstance(reply[0], list):
            raise RuntimeError(f"speaker failed: {reply}")
        return reply

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.pipe.send("stop")
            self.pipe.recv()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def opus_packets(frames: list[bytes]) -> list[bytes]:
    encoder = OpusEncoder()
    return [encoder.encode(f) for f in frames]


def speaker_process(pipe, port: int, v2: bool = False) -> None:
    """Says it is loaded, opens the sockets `pipe` names, then streams until "stop"; "sends"
    answers the bursts sent so far. Downstream (mix-minus) is read: discarded in v1, its headers'
    ages noted in v2."""
    pipe.send(("loaded",))
    targets = pipe.recv()
    if targets == "stop":  # stopped before it was given any
        pipe.send(("stopped", 0))
        return
    socks = [WebSocket.connect(port, path, cookie, timeout=30).sock for path, cookie in targets]
    marker = speech(0, SPEECH_PEAK)
    if v2:
        packets = [opus_packets(speech(i, SPEECH_PEAK)) for i in range(len(socks))]
    else:
        wires = [[masked(f) for f in speech(i, SPEECH_PEAK)] for i in range(1, len(socks))]
    poller = select.epoll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in [*by_fd, pipe.fileno()]:
        poller.register(fd, select.EPOLLIN)
    sends: list[tuple[int, int, float]] = []
    ages: list[tuple[float, int]] = []
    buffers = {fd: bytearray() for fd in by_fd} if v2 else None
    late = tick = 0
    next_t = time.monotonic()
    pipe.send(("ready", len(socks)))
    while True:
        now = time.monotonic()
        if now >= next_t:
            if v2:
                stamp = clock_ms()
                for sock, mine in zip(socks, packets, strict=True):
                    sock.sendall(masked(pack(Message([mine[tick % len(mine)]], tick, stamp))))
            else:
                payload, seq = marker_payload(tick, marker)
                data = masked(payload)
                t = time.monotonic()
                socks[0].sendall(data)
                if seq is not None:
                    sends.append((seq, seq % 256, t))
                for sock, wire in zip(socks[1:], wires, strict=True):
                    sock.sendall(wire[tick % len(wire)])
            tick += 1
            next_t += FRAME_SECONDS
            if now - next_t > 0.2:  # far behind: skip ahead, as a real client's clock would
                late += 1
                next_t = now
            continue
        wait = max(0.0, next_t - now)
        if not _between_frames(poller, by_fd, pipe, wait, (sends, late), buffers, ages):
            break
    for s in socks:
        with contextlib.suppress(OSError):
            s.sendall(masked(b"\x03\xe8", CLOSE))
            s.close()
    pipe.send(("stopped", len(sends)))


def _between_frames(
    poller, by_fd: dict, pipe, wait: float, sent: tuple, buffers: dict | None, ages: list
) -> bool:
    """Answers commands and drains the speakers' downstream; False to stop."""
    for fd, _ in poller.poll(wait):
        if fd == pipe.fileno():
            command = pipe.recv()
            if command == "sends":
                pipe.send((*sent, time.process_time(), ages[:]))
                ages.clear()
            elif command == "stop":
                return False
            continue
        try:
            data = by_fd[fd].recv(65536)
            if not data:
                raise ConnectionError
            if buffers is not None:
                buffers[fd] += data
                for opcode, payload in read_frames(buffers[fd]):
                    if opcode == BINARY and len(payload) >= HEADER.size:
                        capture = HEADER.unpack_from(payload)[5]
                        if capture:
                            ages.append((time.monotonic(), age_ms(capture, clock_ms())))
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pipe.send(("speaker lost", fd))
            return False
    return True
