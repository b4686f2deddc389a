"""F5: the caption model missing, then the caption worker killed mid-run: audio unaffected,
"Captions unavailable" on the room page."""

import os
import signal
import time
from pathlib import Path

from testkit.audio import speech
from testkit.server import LiveServer, cmdline
from testkit.waiting import wait_until

from .kit import Figures, captions_state, make_admin


def run(args, tmp: Path, fig: Figures) -> None:
    no_model(tmp, fig)
    worker_killed(tmp, fig)


def captioned_space(server: LiveServer, prefix: str, title: str) -> tuple:
    """Starts the server: a Space whose host allows captions and has the microphone on, with a
    listener who turned captions on, and an admin. Answers (host, listener, admin, room)."""
    host, listener, admin = server.people([f"{prefix}host", f"{prefix}ear", f"{prefix}admin"])
    make_admin(server, admin)
    server.start()
    space = host.open_space(title)
    room = f"/spaces/{space}"
    host.act(room + "/captions-consent", {"allow": "1"})
    host.act(room + "/mic", {"on": "1"})
    listener.join(space)
    listener.act(room + "/captions-view", {"on": "1"})
    return host, listener, admin, room


def no_model(tmp: Path, fig: Figures) -> None:
    """A: no model at all."""
    server = LiveServer(tmp / "f5a", CAPTIONS="1", CAPTION_MODEL="/nonexistent")
    parts = []
    try:
        host, listener, admin, room = captioned_space(server, "f5", "F5 no model")
        fig["missing_error"] = wait_until(lambda: captions_state(admin).get("error"), 30, 0.2)
        fig["missing_page_says"] = "Captions unavailable" in listener.get(room)
        ear = listener.listen(room + "/audio", keep_text=False)
        parts = [ear, host.speak(room + "/audio", speech(1))]
        time.sleep(6)
        t = time.monotonic()
        fig["missing_fps"] = ear.rate(t - 5, t)
        fig["missing_audible"] = ear.count(t - 5, t, audible_only=True)
        fig.check(fig["missing_page_says"], "no 'Captions unavailable' with the model missing")
        fig.check(fig["missing_fps"] >= 49 and fig["missing_audible"] > 100, "audio suffered")
    finally:
        for part in parts:
            part.stop()
        server.stop()


def worker_killed(tmp: Path, fig: Figures) -> None:
    """B: the model runs, then its process is killed mid-run."""
    server = LiveServer(tmp / "f5b", CAPTIONS="1")
    parts = []
    try:
        host, listener, admin, room = captioned_space(server, "f5", "F5 crash")
        ready = wait_until(lambda: captions_state(admin).get("available"), 90, 0.5)
        fig.check(bool(ready), "the caption model never became ready")
        ear = listener.listen(room + "/audio", keep_text=False)
        parts = [ear, listener.listen(room + "/live"), host.speak(room + "/audio", speech(1))]
        space = int(room.rsplit("/", 1)[1])
        got = wait_until(
            lambda: server.sql("SELECT COUNT(*) FROM captions WHERE space_id = ?", (space,))[0][0],
            60,
            0.5,
        )
        fig["captions_before_kill"] = got or 0
        time.sleep(max(0.0, ear.connects[0] + 6 - time.monotonic()) if ear.connects else 0)
        fig.check(bool(got), "no caption before the worker was killed")
        killed = kill_caption_worker(server, fig)
        shown = wait_until(lambda: "Captions unavailable" in listener.get(room), 15, 0.2)
        fig["killed_page_says_after_s"] = time.monotonic() - killed if shown else None
        time.sleep(max(0.0, killed + 5 - time.monotonic()))
        fig["killed_fps_around"] = ear.rate(killed - 5, killed + 5)
        fig["killed_max_gap_ms"] = 1000 * ear.max_gap(killed - 5, killed + 5)
        fig["killed_audible_after"] = ear.count(killed, killed + 5, audible_only=True)
        fig["health_says"] = "Captions unavailable" in admin.get("/admin/health")
        fig["server_alive"] = server.alive()
        fig.check(bool(shown), "no 'Captions unavailable' after the worker died")
        fig.check(fig["health_says"], "/admin/health does not say captions are unavailable")
        fig.check(fig["killed_fps_around"] >= 49, "the stream faltered when the worker died")
        fig.check(fig["killed_max_gap_ms"] < 200, "a gap in the audio when the worker died")
        fig.check(fig["killed_audible_after"] > 100, "the speaker not heard after the kill")
    finally:
        for part in parts:
            part.stop()
        server.stop()


def kill_caption_worker(server: LiveServer, fig: Figures) -> float:
    """kill -9 of the caption worker process; when."""
    workers = [
        p
        for p in server.children()
        if "multiprocessing" in cmdline(p) and "resource_tracker" not in cmdline(p)
    ]
    fig.check(len(workers) == 1, f"caption worker processes found: {len(workers)}")
    killed = time.monotonic()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    return killed
