"""F4: the disk fills while recording (a 300 KiB tmpfs mounted on DATA_DIR/recordings, or ENOSPC
injected where mounting is not allowed): audio goes on, /admin/health names the error, nothing
is corrupt."""

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf
from fanout.room import seat

from testkit.audio import speech
from testkit.http_user import HttpUser
from testkit.server import LiveServer
from testkit.waiting import wait_until

from .kit import Figures, make_admin

ENOSPC_HOOK = Path(__file__).resolve().parent.parent / "enospc"  # its sitecustomize.py


@contextlib.contextmanager
def small_disk(recordings: Path, fig: Figures) -> Iterator[dict]:
    """A tmpfs with ~64 KiB free on `recordings` (two voices, ~4 KB/s of Opus, fill it in about
    15 s); without mount rights, the environment that injects ENOSPC instead."""
    recordings.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(recordings)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        fig["disk"] = "injected-ENOSPC"
        yield {"PYTHONPATH": str(ENOSPC_HOOK), "ENOSPC_AFTER_FRAMES": "750"}
        return
    fig["disk"] = "tmpfs300k"
    try:
        free = os.statvfs(recordings).f_bavail * os.statvfs(recordings).f_frsize
        (recordings / "filler").write_bytes(b"\0" * max(0, free - 64 * 1024))
        yield {}
    finally:
        subprocess.run(["umount", str(recordings)], capture_output=True)


def run(args, tmp: Path, fig: Figures) -> None:
    data = tmp / "f4"
    recordings = data / "recordings"
    with small_disk(recordings, fig) as env:
        server = LiveServer(data, **env)
        host, voice, listener, admin = server.people(["f4host", "f4voice", "f4ear", "f4admin"])
        make_admin(server, admin)
        parts = []
        try:
            server.start()
            space = host.open_space("F4 full disk")
            room = f"/spaces/{space}"
            seat(host, [voice], space)
            listener.join(space)
            ear = listener.listen(room + "/audio", keep_text=False)
            parts = [ear, host.speak(room + "/audio", speech(1))]
            parts.append(voice.speak(room + "/audio", speech(4)))
            ear.connected.wait(5)
            disk_fills(fig, admin, space, ear)
            status, _ = host.request("POST", room + "/end")
            fig["end_status"] = status
            fig.check(status == 200, f"ending the Space answered {status}")
        finally:
            for part in parts:
                part.stop()
            server.stop()
        after_stop(fig, server, recordings, space)


def disk_fills(fig: Figures, admin: HttpUser, space: int, ear) -> None:
    """The error shows on /admin/health, and the speakers go on being heard."""
    began = time.monotonic()

    def health_error():
        status, html = admin.request("GET", "/admin/health", htmx=False)
        found = re.search(rf"<li>Space {space}: ([^<]+)</li>", html)
        return found.group(1) if status == 200 and found else None

    error = wait_until(health_error, 120, 0.5)
    failed = time.monotonic()
    fig["failed_after_s"] = failed - began
    fig["admin_error"] = error
    fig.check(error is not None, "no recording error on /admin/health within 120 s")
    time.sleep(5)
    fig["fps_after"] = ear.rate(failed, failed + 5)
    fig["audible_after"] = ear.count(failed, failed + 5, audible_only=True)
    fig.check(fig["fps_after"] >= 49, "the stream faltered when the disk filled")
    fig.check(fig["audible_after"] > 50, "the speakers were not heard after the disk filled")
    fig.check(
        bool(error) and ("space" in error.lower() or "ENOSPC" in error),
        f"the error does not say the disk is full: {error}",
    )


def after_stop(fig: Figures, server: LiveServer, recordings: Path, space: int) -> None:
    """The database is whole, the recording plays what was written, its row names the error."""
    fig["integrity"] = server.sql("PRAGMA integrity_check")[0][0]
    fig.check(fig["integrity"] == "ok", "database integrity")
    try:
        audio, rate = sf.read(str(recordings / f"space-{space}.ogg"), dtype="int16")
        fig["recording_readable_s"] = len(audio) / rate
    except Exception as exc:  # noqa: BLE001
        fig["recording_readable_s"] = 0.0
        fig.check(False, f"the recording is not readable: {exc}")
    fig.check(fig["recording_readable_s"] >= 5, "less than 5 s of the recording readable")
    row = server.sql("SELECT error FROM recordings WHERE space_id = ?", (space,))
    fig.check(bool(row and row[0][0]), "the recordings row has no error")
