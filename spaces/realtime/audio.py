"""The audio relay: speakers' frames in, one mix out to every listener, on a steady 20 ms tick.

Who may send is decided from in-memory room state (`on_air`), refreshed from the database when a
room event arrives, never per frame. Each tick builds the listeners' websocket frame once and
writes it through every connection's non-blocking outbox (see outbox.py); speakers get their own
mix-minus. The mix is recorded, and each consenting speaker's own frames go to the caption worker.

Two wire formats (docs/audio-protocol.md): v1 is bare PCM; v2 carries Opus with a header
(spaces/audio_wire.py). A v2 speaker's packets are decoded on their socket thread, so the mix,
levels and captions always see PCM. The mix is encoded once per tick by the room's encoder, for
every v2 listener and for the recording; each v2 speaker's mix-minus by an encoder of their own
(streams.py).

With edge nodes (spaces/edge), each tick also hands the listeners' bytes of each room, once per
codec, to `mix_sink`, which publishes them to Redis off this thread. With the listener relay
(listener_relay.py, on by default) the same bytes go once to a process of its own, which writes
them to this node's listeners: the core writes only to people on stage.
"""

import itertools
import json
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from flask import Flask

from .. import audio_wire, recordings, rooms
from ..audio_format import FRAME_BYTES, FRAME_SECONDS
from ..clock import now
from ..events import RoomEvent
from .audio_terms import CODECS, audio_outbox
from .close_codes import ENDED, LEFT, REMOVED, RESTART
from .jitter import JitterBuffer
from .listener_relay import ListenerRelay, RelayOutbox
from .mixer import mix_tick
from .opus import OpusDecoder
from .outbox import Outbox, frame
from .recorder import Recorder
from .streams import Captured, OpusStreams

log = logging.getLogger(__name__)

LEVELS_EVERY = 5  # ticks (100 ms)


class MixSink(Protocol):
    """Where the tick hands listeners' bytes for edge nodes (spaces/edge/mix_channel.py), one
    websocket payload per room, codec and tick. Neither call may block the tick."""

    def wants(self, space_id: int, codec: str) -> bool:
        """Whether some edge has listeners of this codec in this room."""

    def put(self, space_id: int, codec: str, payload: bytes) -> None:
        """Queues the payload for those edges."""


@dataclass(eq=False)
class AudioConnection:
    id: int
    space_id: int
    user_id: int
    outbox: Outbox
    codec: str = "pcm"  # "pcm" (v1, no header) or "opus" (v2)
    relayed: bool = False  # the listener relay writes this socket (the room's bytes reach it)
    decoder: OpusDecoder | None = None  # a v2 speaker's packets, made on their first one
    frames_in: int = 0
    frames_dropped: int = 0  # not on air, wrong size, or over the rate
    allowance: float = 100.0
    last: float = field(default_factory=time.monotonic)

    RATE = 60.0  # frames per second allowed (50 expected), with a 2 s burst after a reconnect
    BURST = 100.0

    def take(self) -> bool:
        t = time.monotonic()
        self.allowance = min(self.BURST, self.allowance + (t - self.last) * self.RATE)
        self.last = t
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True


class AudioRoom:
    def __init__(self, space: dict, recordings_dir: str) -> None:
        self.space_id = space["id"]
        self.started = space["created_at"]
        self.conns: dict[int, AudioConnection] = {}
        self.buffers: dict[int, JitterBuffer] = {}
        self.stage: set[int] = set()
        self.on_air: set[int] = set()
        self.consent: set[int] = set()
        self.recordings_dir = recordings_dir
        self.recorder: Recorder | None = None
        self.ticks = 0
        self.last_levels: dict[int, float] = {}
        self.peak_levels: dict[int, float] = {}
        self.error_reported = False
        self.opus = OpusStreams()

    def offset(self) -> float:
        """Seconds since the Space started, by the recording's own clock once it runs."""
        if self.recorder is None:
            return now() - self.started
        return self.recorder.start_offset + self.recorder.seconds


class AudioEngine:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.rooms: dict[int, AudioRoom] = {}
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.caption_sink = None  # set by send_captions_to
        self.mix_sink: MixSink | None = None  # edge nodes (spaces/edge): see MixSink
        self.relay: ListenerRelay | None = None  # this node's listeners (listener_relay.py)
        self.stats = {"ticks": 0, "late_ticks": 0, "frames_dropped": 0}
        self._writes: queue.Queue = queue.Queue()  # recording rows, written off the tick
        self._writer: threading.Thread | None = None

    def send_captions_to(self, sink) -> None:
        """On every tick, hands each consenting speaker's own frame to `sink(space_id, user_id,
        frame, offset)`: the captions relay's `feed` (the app factory connects them)."""
        self.caption_sink = sink

    def _db(self):
        return self.app.extensions["spaces_db"].get()

    # Connections -------------------------------------------------------------------------------

    def outbox_for(self, ws, space_id: int, user_id: int, codec: str, send_timeout: float):
        """Who writes this new audio socket: the listener relay for a listener, the core for
        people on stage (and for everyone without a relay)."""
        relay = self.relay
        if relay is not None and user_id not in self._room(space_id).stage:
            outbox = relay.adopt(ws, space_id, codec)
            if outbox is not None:
                return outbox
        return audio_outbox(ws, send_timeout)

    def _room(self, space_id: int) -> AudioRoom:
        with self.lock:
            room = self.rooms.get(space_id)
        return room if room is not None else self._open_room(space_id)

    def connect(
        self, space_id: int, user_id: int, outbox: Outbox, codec: str = "pcm"
    ) -> AudioConnection:
        conn = AudioConnection(next(self._ids), space_id, user_id, outbox, codec)
        conn.relayed = isinstance(outbox, RelayOutbox)
        with self.lock:
            room = self.rooms.get(space_id)
        if room is None:
            room = self._open_room(space_id)
        with self.lock:
            room.conns[conn.id] = conn
            moved = conn.relayed and user_id in room.stage  # brought on stage since outbox_for
        if moved:
            outbox.close(RESTART, "moved to the core")
        return conn

    def disconnect(self, conn: AudioConnection) -> None:
        with self.lock:
            room = self.rooms.get(conn.space_id)
            if room is not None:
                room.conns.pop(conn.id, None)
        if room is not None:
            room.opus.forget(conn.id)

    def receive(self, conn: AudioConnection, data) -> None:
        """One message from a client: a frame is kept only from a speaker with the mic on."""
        room = self.rooms.get(conn.space_id)
        # Who and how fast first: a packet is decoded only for someone on air, within the rate.
        allowed = room is not None and conn.user_id in room.on_air and conn.take()
        frames = self._frames_of(conn, data) if allowed else None
        if frames is None:
            conn.frames_dropped += 1
            self.stats["frames_dropped"] += 1
            return
        conn.frames_in += 1
        buffer = room.buffers.get(conn.user_id)
        if buffer is not None:
            for pcm in frames:
                buffer.push(pcm)

    def _frames_of(self, conn: AudioConnection, data) -> list[bytes] | None:
        """The PCM frames a message brings (a v2 packet may give none while the decoder fills),
        or None for anything that is not one frame of the connection's format."""
        if not isinstance(data, bytes | bytearray):
            return None
        if conn.codec == "pcm":
            return [bytes(data)] if len(data) == FRAME_BYTES else None
        try:
            message = audio_wire.unpack(data)
        except ValueError:
            return None
        if len(message.frames) != 1:  # a speaker sends one 20 ms frame per message
            return None
        if conn.decoder is None:
            conn.decoder = OpusDecoder()
        errors = conn.decoder.errors
        frames = conn.decoder.decode(message.frames[0])
        if conn.decoder.errors > errors:
            return None
        return [Captured.of(pcm, message.capture_ms) for pcm in frames]

    def _open_room(self, space_id: int) -> AudioRoom:
        with self.app.app_context():
            db = self._db()
            space = rooms.get(db, space_id)
            room = AudioRoom(space, self.app.config["RECORDINGS_DIR"])
            room.opus.frames_per_message = self.app.config["AUDIO_LISTENER_FRAMES"]
            self._refresh(db, room)
        if space["ended_at"] is not None:  # ended since the handshake: a room that never ticks
            return room  # (nor records); the socket view closes the connection
        with self.lock:
            existing = self.rooms.get(space_id)
            if existing is not None:
                return existing
            self.rooms[space_id] = room
        return room

    def _start_recording(self, room: AudioRoom) -> None:
        """Runs on the tick: the file opens at once, its row is written by the writer thread (a
        database locked by another process must not stall the audio of every room)."""
        db = self._db()  # a read: in WAL mode it never waits for a writer
        part = recordings.next_part(db, room.space_id, room.recordings_dir)
        path = recordings.recording_path(room.recordings_dir, room.space_id, part)
        room.recorder = Recorder(
            path, start_offset=max(0.0, now() - room.started), header=room.opus.header
        )
        self._write_later(
            recordings.add,
            room.space_id,
            path,
            room.recorder.start_offset,
            error=room.recorder.error,
            created_at=now(),
        )

    def _write_later(self, write, *args, **kwargs) -> None:
        """Queues `write(db, *args, **kwargs)` for one writer thread, which keeps the order and
        retries while the database is locked, so the tick never waits for sqlite."""
        self._writes.put((write, args, kwargs))
        with self.lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, daemon=True, name="audio-db-writer"
                )
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            write, args, kwargs = self._writes.get()
            for _attempt in range(12):  # each waits the busy timeout (5 s): about a minute
                try:
                    write(self._db(), *args, **kwargs)
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        log.exception("recording row not written: %s", args)
                        break
                    log.warning("database locked; recording row not written yet, retrying")
            else:
                log.error("recording row not written (database locked for a minute): %s", args)

    # Room state from events --------------------------------------------------------------------

    def _refresh(self, db, room: AudioRoom) -> None:
        rows = db.execute(
            "SELECT p.user_id, p.mic_on, u.caption_consent FROM participants p"
            " JOIN users u ON u.id = p.user_id WHERE p.space_id = ? AND p.present = 1"
            " AND p.role IN ('host', 'speaker')",
            (room.space_id,),
        ).fetchall()
        stage = {r[0] for r in rows}
        on_air = {r[0] for r in rows if r[1]}
        with self.lock:
            for user_id in set(room.buffers) - on_air:
                room.buffers.pop(user_id).clear()
            for user_id in on_air - set(room.buffers):
                room.buffers[user_id] = JitterBuffer()
            room.stage, room.on_air = stage, on_air
            room.consent = {r[0] for r in rows if r[2]}

    def on_event(self, event: RoomEvent) -> None:
        room = self.rooms.get(event.space_id)
        if room is None:
            return
        if event.kind == "ended":
            self._close_room(room, ENDED, "ended")
            return
        if "title" in event.extra:  # a rename, for docked players (they have only this socket)
            self._tell(room, {"type": "title", "title": event.extra["title"]})
        with self.app.app_context():
            db = self._db()
            self._refresh(db, room)
            with self.lock:  # after the refresh: a socket added meanwhile sees the new stage
                conns = list(room.conns.values())
            # Someone who left and is already back (a second tab joined) keeps their sockets.
            left = {c.user_id for c in conns if c.user_id in event.left}
            left = {uid for uid in left if not rooms.is_present(db, room.space_id, uid)}
        for conn in conns:
            if conn.user_id in event.removed:
                conn.outbox.close(REMOVED, "removed")
            elif conn.user_id in left:
                conn.outbox.close(LEFT, "left")
            elif conn.relayed and conn.user_id in room.stage:  # on stage: the core writes it
                conn.outbox.close(RESTART, "moved to the core")

    def _tell(self, room: AudioRoom, message: dict) -> None:
        """A text message to everyone on the room's audio socket."""
        data = frame(json.dumps(message))
        with self.lock:
            conns = list(room.conns.values())
        for conn in conns:
            if not conn.relayed:
                conn.outbox.push(data)
        for sink in self._sinks():  # the same text for others' listeners of either codec
            for codec in CODECS:
                if sink.wants(room.space_id, codec):
                    sink.put(room.space_id, codec, data)

    def _sinks(self) -> list[MixSink]:
        """Where listeners' bytes go besides the core's own writes: the relay, then edges."""
        return [s for s in (self.relay, self.mix_sink) if s is not None]

    def _close_room(self, room: AudioRoom, code: int, reason: str) -> None:
        with self.lock:
            self.rooms.pop(room.space_id, None)
            conns = list(room.conns.values())
            room.on_air = set()
        for conn in conns:
            conn.outbox.close(code, reason)
        if room.recorder is not None:
            room.recorder.close()

    # The tick ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="audio-mixer")
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        for room in list(self.rooms.values()):
            self._close_room(room, RESTART, "restart")
        if self.relay is not None:
            self.relay.stop()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stopping:
            next_tick += FRAME_SECONDS
            try:
                self.tick()
            except Exception:
                log.exception("audio tick failed")
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                self.stats["late_ticks"] += 1
                if delay < -0.2:  # far behind (a stall): skip ahead rather than burst
                    next_tick = time.monotonic()

    def tick(self) -> None:
        self.stats["ticks"] += 1
        with self.lock:
            rooms_now = list(self.rooms.values())
        for room in rooms_now:
            self._tick_room(room)

    def _tick_room(self, room: AudioRoom) -> None:
        with self.lock:
            conns = list(room.conns.values())
            buffers = dict(room.buffers)
            stage = room.stage
        if room.recorder is None and conns:
            self._start_recording(room)
        speakers_listening = {c.user_id for c in conns if c.user_id in stage}
        result = mix_tick(buffers, speakers_listening)
        offset = room.offset()
        room.ticks += 1
        levels = self._levels(room, result.levels)
        # Every speaker hears the others before any listener is sent anything: speakers are in
        # the conversation, and a fan-out to thousands of listeners takes a good part of a tick
        # (at 1,500 listeners speakers' p99 was 128 ms behind it, 57 ms at 1,000).
        packet, for_listeners = room.opus.tick(room.ticks, result, levels, conns, stage)
        sinks = self._sinks()
        sinks_pcm = [s for s in sinks if s.wants(room.space_id, "pcm")]
        pcm_conns = [c for c in conns if c.codec == "pcm" and not c.relayed]
        pcm_due = bool(pcm_conns) or bool(sinks_pcm)
        mix_frame, minus_frames = self._pcm_frames(result, levels) if pcm_due else (b"", {})
        for conn in pcm_conns:
            if conn.user_id in stage:
                conn.outbox.push(minus_frames.get(conn.user_id, mix_frame))
        for sink in sinks:  # only queued here: their listeners wait no longer than ours
            for_pcm = mix_frame if sink in sinks_pcm else None
            self._to_sink(sink, room.space_id, for_listeners, for_pcm)
        if for_listeners is not None:
            for conn in conns:
                if conn.codec == "opus" and conn.user_id not in stage and not conn.relayed:
                    conn.outbox.push(for_listeners)
        for conn in pcm_conns:
            if conn.user_id not in stage:
                conn.outbox.push(mix_frame)
        if room.recorder is not None:
            room.recorder.write_packet(packet)
            if room.recorder.error and not room.error_reported:
                self._report_recording_error(room)
        sink = self.caption_sink
        if sink is not None:
            for user_id, data in result.frames.items():
                if user_id in room.consent:  # plain bytes: they cross to the caption process
                    sink(room.space_id, user_id, bytes(data), offset)

    def _to_sink(
        self, sink: "MixSink", space_id: int, for_opus: bytes | None, for_pcm: bytes | None
    ) -> None:
        """What the relay's or edges' listeners receive this tick, once per codec: the v2
        listeners' message when the tick completed one (every third), and the v1 mix frame only
        when the sink has v1 listeners in this room. PCM is 640 bytes 50 times a second against
        Opus's one message of about 200 bytes 17 times a second: sent for nobody, it would triple
        the Redis messages and the edges' or relay's work for what only older clients ask for."""
        if for_opus is not None and sink.wants(space_id, "opus"):
            sink.put(space_id, "opus", for_opus)
        if for_pcm is not None:
            sink.put(space_id, "pcm", for_pcm)

    def _pcm_frames(self, result, levels: dict | None) -> tuple[bytes, dict[int, bytes]]:
        """v1: the mix and each speaker's mix-minus as bare PCM frames, each followed by the
        levels as a JSON text message when they are due (one write per client for both)."""
        mix_frame = frame(result.mix)
        minus_frames = {uid: frame(data) for uid, data in result.minus.items()}
        if levels is not None:
            text = frame(json.dumps({"type": "levels", "levels": levels}))
            mix_frame += text
            minus_frames = {uid: data + text for uid, data in minus_frames.items()}
        return mix_frame, minus_frames

    def _levels(self, room: AudioRoom, levels: dict[int, float]) -> dict[int, float] | None:
        """Each speaker's peak level, every LEVELS_EVERY ticks while anyone speaks (and once
        after), or None between."""
        for uid, value in levels.items():
            room.peak_levels[uid] = max(value, room.peak_levels.get(uid, 0.0))
        if room.ticks % LEVELS_EVERY:
            return None
        peaks = {uid: round(v, 2) for uid, v in room.peak_levels.items()}
        room.peak_levels = {}
        if not peaks and not room.last_levels:
            return None
        room.last_levels = peaks
        return peaks

    def _report_recording_error(self, room: AudioRoom) -> None:
        """A failed recording (a full disk) is written where admins see it; the room goes on."""
        room.error_reported = True
        self._write_later(recordings.set_error, room.recorder.path, room.recorder.error)
