"""What every audio socket shares, the core's (spaces/views/audio_socket.py) and an edge node's
(spaces/edge/app.py): the wire formats a client may ask for, and how much a slow listener is
allowed to fall behind. docs/audio-protocol.md is the reference."""

import contextlib
import socket
from collections.abc import Mapping

from .outbox import Outbox, attach

CODECS = ("opus", "pcm")  # v2 and v1, as AudioConnection.codec and the edges' mix channels

AUDIO_BACKLOG = 8  # frames (160 ms) queued for a slow listener before the oldest are dropped
# The kernel's send buffer per audio socket, fixed (Linux doubles it: about 0.4 s of audio).
# Autotuned it grows to megabytes: minutes of audio queued for a slow client before the backlog
# above drops anything, and as much kernel memory held for each stuck one.
AUDIO_SNDBUF = 8 * 1024
# Seconds an audio socket's handler waits for a message before it looks again whether the socket
# was closed. A close wakes it at once (the socket is shut), so this only paces the wake-ups of
# listeners' handlers, which hear from their client hardly ever: at 5 s, 2,000 listeners woke the
# core 400 times a second, each taking the GIL from the tick and the speakers' threads.
RECEIVE_WAIT = 60.0


def wire_codec(args: Mapping[str, str]) -> str | None:
    """The format a client asked for in the query: "pcm" (v1, the default) or "opus" (v2), or
    None for a request this server does not speak."""
    version = args.get("v", "1")
    codec = args.get("codec", "pcm" if version == "1" else "opus")
    return {("1", "pcm"): "pcm", ("2", "opus"): "opus"}.get((version, codec))


def audio_socket_buffer(sock) -> None:
    """An audio socket's small, fixed kernel send buffer (AUDIO_SNDBUF)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, AUDIO_SNDBUF)


def audio_outbox(ws, send_timeout: float) -> Outbox:
    """A listener's or speaker's audio socket: a small kernel buffer and a short backlog, the
    oldest frames dropped for a client that falls behind."""
    audio_socket_buffer(ws.sock)
    return attach(ws, max_backlog=AUDIO_BACKLOG, overflow="drop-oldest", send_timeout=send_timeout)
