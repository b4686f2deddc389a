"""The caption worker: inference in its own process, so captions never slow the audio relay.

Measured here (../shared/MEASURED.md): a caption model decoding inside the relay's process tripled
its p99 fan-out latency. So the model lives in a 'spawn' child process. The relay's side is a
bounded deque that `feed()` appends to (or drops and counts when full: it never blocks), and two
plain threads that move batches over pipes: one sends frames, one receives captions and counters.
Two threads, not one, so a full pipe in one direction can never deadlock the other.

If the model is missing or the process dies, `counters()['available']` turns False with the
reason, a log line says so, and `feed()` becomes a cheap no-op. Nothing raises into the caller.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from ..audio_format import FRAME_BYTES
from .policy import StreamPolicy
from .scheduler import COUNTERS
from .streaming import CaptionUpdate

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (space_id, user_id)


@dataclass
class WorkerConfig:
    model_dir: str | None = None
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1
    beam_size: int = 5
    policy: StreamPolicy = field(default_factory=StreamPolicy)
    idle_end_s: float = 1.0
    nice: int = 5


class CaptionWorker:
    """start(), feed(key, pcm, t), end_stream(key), poll(), counters(), stop()."""

    def __init__(
        self,
        model_dir: str | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 1,
        beam_size: int = 5,
        max_queued_frames: int = 1500,
        policy: StreamPolicy | None = None,
        idle_end_s: float = 1.0,
        nice: int = 5,
    ) -> None:
        self.config = WorkerConfig(
            model_dir,
            device,
            compute_type,
            cpu_threads,
            beam_size,
            policy or StreamPolicy(),
            idle_end_s,
            nice,
        )
        self.max_queued_frames = max_queued_frames
        self.state = "stopped"  # starting | ready | unavailable | stopping | stopped
        self.error: str | None = None
        self._proc: mp.process.BaseProcess | None = None
        self._outbox: deque = deque()
        self._updates: deque[tuple[Key, CaptionUpdate]] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self._fed: dict[Key, int] = {}
        self._dropped: dict[Key, int] = {}
        self._remote: dict[Key, dict[str, int]] = {}

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the model process; returns at once (the model loads and warms up there)."""
        if self.state in ("starting", "ready"):
            return
        ctx = mp.get_context("spawn")
        child_in, self._to_child = ctx.Pipe(duplex=False)
        self._from_child, child_out = ctx.Pipe(duplex=False)
        self.state, self.error = "starting", None
        self._outbox.clear()
        self._proc = ctx.Process(
            target=serve,
            args=(self.config, child_in, child_out),
            name="caption-worker",
            daemon=True,
        )
        self._proc.start()
        child_in.close()
        child_out.close()
        threading.Thread(target=self._send_loop, name="caption-send", daemon=True).start()
        threading.Thread(target=self._receive_loop, name="caption-receive", daemon=True).start()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """For tests and benchmarks: wait until the model is loaded (True) or unavailable."""
        deadline = time.monotonic() + timeout
        while self.state == "starting" and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.state == "ready"

    def stop(self, timeout: float = 5.0) -> None:
        """Let the worker finish the finals it can in a second or two, then end it."""
        proc = self._proc
        if proc is None:
            return
        self.state = "stopping"
        self._outbox.append(("s",))
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
        self.state = "stopped"
        self._proc = None

    # --- the relay's side: never blocks, never raises ------------------------------------------
    def feed(self, key: Key, pcm: bytes, t: float) -> None:
        """One speaker's frame(s): 16 kHz mono int16 LE, `t` = timeline offset of the first."""
        if self.state not in ("starting", "ready"):
            return
        with self._lock:
            self._fed[key] = self._fed.get(key, 0) + max(1, len(pcm) // FRAME_BYTES)
            if len(self._outbox) >= self.max_queued_frames:
                self._dropped[key] = self._dropped.get(key, 0) + max(1, len(pcm) // FRAME_BYTES)
                return
        self._outbox.append(("f", key, pcm, t))

    def end_stream(self, key: Key, discard: bool = False) -> None:
        """This speaker stopped (left the stage, muted): their open utterance gets its final.
        With `discard` (consent revoked) nothing more comes for them, not even that final:
        drop their partial line."""
        if self.state in ("starting", "ready"):
            self._outbox.append(("e", key, discard))

    def poll(self) -> list[tuple[Key, CaptionUpdate]]:
        """Captions produced since the last poll, oldest first."""
        out = []
        while self._updates:
            out.append(self._updates.popleft())
        return out

    def counters(self) -> dict:
        """Per key: frames_fed, frames_dropped (queue full), frames_model (reached the model
        process), model_calls, model_ms, partials, partials_skipped, finals, finals_degraded;
        and 'available', 'error', 'state'."""
        out: dict = {}
        with self._lock:
            keys = set(self._fed) | set(self._remote)
            for key in keys:
                row = {
                    "frames_fed": self._fed.get(key, 0),
                    "frames_dropped": self._dropped.get(key, 0),
                }
                row.update(self._remote.get(key) or dict.fromkeys(COUNTERS, 0))
                out[key] = row
        out["available"] = self.state == "ready"
        out["error"] = self.error
        out["state"] = self.state
        return out

    # --- threads ----------------------------------------------------------------------------------
    def _send_loop(self) -> None:
        conn, proc = self._to_child, self._proc
        while self._proc is proc:
            if not self._outbox:
                time.sleep(0.005)
                continue
            batch = []
            while self._outbox and len(batch) < 2000:
                batch.append(self._outbox.popleft())
            try:
                conn.send(batch)
            except (OSError, ValueError):
                break
            if batch[-1][0] == "s":
                break
        conn.close()

    def _receive_loop(self) -> None:
        conn, proc = self._from_child, self._proc
        while True:
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):
                break
            if kind == "ready":
                self.state = "ready"
                log.info("captions ready: %s", payload)
            elif kind == "error":
                self.error = payload
                self.state = "unavailable"
                log.error("%s", payload)
            elif kind == "u":
                self._updates.extend(payload)
            elif kind == "c":
                with self._lock:
                    self._remote = payload
        conn.close()
        proc.join(2.0)
        if self.state in ("starting", "ready"):
            self.error = f"captions unavailable: the caption worker exited (code {proc.exitcode})"
            self.state = "unavailable"
            log.error("%s", self.error)
        self._outbox.clear()


def serve(config: WorkerConfig, inbox: Connection, outbox: Connection) -> None:
    """The model process: load, warm up, then feed streams and run one step at a time."""
    # Deferred, a heavy import: only this process loads faster-whisper and CTranslate2.
    from .engine import Transcriber, load_model, warm_up
    from .scheduler import StreamSet

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    if config.nice:
        os.nice(config.nice)  # when CPU is short, the audio relay goes first
    try:
        model = load_model(config.model_dir, config.device, config.compute_type, config.cpu_threads)
        seconds = warm_up(model)
        transcriber = Transcriber(model, beam_size=config.beam_size)
    except Exception as exc:
        outbox.send(
            (
                "error",
                str(exc) if str(exc).startswith("captions") else f"captions unavailable: {exc}",
            )
        )
        return
    outbox.send(("ready", f"model warmed up in {seconds:.2f} s, {config.cpu_threads} thread(s)"))
    streams = StreamSet(config.policy, idle_end_s=config.idle_end_s)
    stopping_at: float | None = None
    reported = 0.0
    while True:
        busy = streams.has_work()
        batches = 0
        while batches < 50 and inbox.poll(0 if busy or batches else 0.02):
            try:
                batch = inbox.recv()
            except (EOFError, OSError):
                return  # the relay is gone
            batches += 1
            for item in batch:
                if item[0] == "f":
                    streams.feed(item[1], item[2], item[3])
                elif item[0] == "e":
                    streams.end(item[1], discard=item[2])
                elif stopping_at is None:
                    stopping_at = time.monotonic()
                    for key in list(streams.streams):
                        streams.end(key)
        streams.sweep()
        try:
            updates = streams.run_once(transcriber)
        except Exception:
            logging.getLogger(__name__).exception("caption step failed")
            updates = []
        now = time.monotonic()
        if updates:
            outbox.send(("u", updates))
        if updates or now - reported > 0.2:
            outbox.send(("c", streams.counters()))
            reported = now
        if stopping_at is not None and (not streams.has_work() or now - stopping_at > 2.0):
            outbox.send(("c", streams.counters()))
            return
