"""F1: kill -9 of the server in a live Space with speakers streaming and captions on; restart on
the same port and data: rows, roles, recording up to the last seconds, clients reconnect."""

import time
from pathlib import Path

import numpy as np
import soundfile as sf
from fanout.room import seat

from testkit.audio import speech
from testkit.server import LiveServer, reap
from testkit.waiting import wait_until

from .kit import Figures, captions_state, make_admin


def snapshot(server: LiveServer, space: int) -> dict:
    """What must survive a crash: every acknowledged row that matters."""
    q = server.sql
    return {
        "users": q("SELECT id, username, is_admin FROM users ORDER BY id"),
        "spaces": q("SELECT id, host_id, title, ended_at IS NULL FROM spaces ORDER BY id"),
        "roles": q(
            "SELECT user_id, role, present, mic_on, requested_at IS NOT NULL FROM participants"
            " WHERE space_id = ? ORDER BY user_id",
            (space,),
        ),
        "reports": q("SELECT id, reporter_id, reason, details FROM reports ORDER BY id"),
        "posts": q("SELECT id, body FROM posts ORDER BY id"),
        "captions": q("SELECT COUNT(*) FROM captions WHERE space_id = ?", (space,))[0][0],
    }


def run(args, tmp: Path, fig: Figures) -> None:
    data = tmp / "f1"
    server = LiveServer(data, CAPTIONS="1")
    names = ["f1host", "f1voice", "f1listener", "f1asker", "f1admin"]
    host, voice, listener, asker, admin = server.people(names)
    make_admin(server, admin)
    clients = []
    restarted = None
    try:
        server.start()
        space = host.open_space("F1 crash")
        room = f"/spaces/{space}"
        prepare(room, host, voice, listener, asker, admin, fig)
        ear = listener.listen(room + "/audio", reconnect=True)
        pages = [p.listen(room + "/live", reconnect=True) for p in (host, voice, listener, asker)]
        mouths = [
            p.speak(room + "/audio", speech(i), reconnect=True) for i, p in ((1, host), (2, voice))
        ]
        clients = [ear, *pages, *mouths]
        ear.connected.wait(5)
        before, killed_at = crash(server, space, fig)
        first_audio = min(c.connects[0] for c in (ear, *mouths) if c.connects)
        check_recording(data / "recordings" / f"space-{space}.ogg", first_audio, killed_at, fig)
        restarted = LiveServer(data, port=server.port, CAPTIONS="1")
        restart(restarted, clients, pages, ear, killed_at, fig)
        resumed = snapshot(restarted, space)
        fig["roles_kept"] = resumed["roles"] == before["roles"]
        fig.check(fig["roles_kept"], f"roles after the restart: {resumed['roles']}")
        status, page = listener.request("GET", room, htmx=False)
        fig["room_page"] = status
        fig.check(status == 200 and "F1 crash" in page, f"the room page answered {status}")
        parts = restarted.sql("SELECT path FROM recordings WHERE space_id = ?", (space,))
        fig["recording_parts"] = len(parts)
        part1 = data / "recordings" / f"space-{space}.part1.ogg"
        fig.check(len(parts) == 2 and part1.exists(), "no second recording part")
    finally:
        for c in clients:
            c.stop()
        if restarted:
            restarted.stop()
        if server.alive():
            server.stop()


def prepare(room: str, host, voice, listener, asker, admin, fig: Figures) -> None:
    """Rows of every kind before the crash: a speaker, a request, consent, a report, a post."""
    space = int(room.rsplit("/", 1)[1])
    seat(host, [voice], space)
    for person in (listener, asker):
        person.join(space)
    asker.act(room + "/request")
    for person in (host, voice):
        person.act(room + "/captions-consent", {"allow": "1"})
    listener.act("/reports/new", {"space": str(space), "reason": "spam", "details": "F1"})
    listener.act("/posts", {"body": "written before the crash"})
    ready = wait_until(lambda: captions_state(admin).get("available"), 90, 0.5)
    fig["captions_ready"] = bool(ready)


def crash(server: LiveServer, space: int, fig: Figures) -> tuple[dict, float]:
    """Once captions are stored, kill -9 mid-second; what was there before, and when."""
    began = time.monotonic()
    captioned = wait_until(
        lambda: snapshot(server, space)["captions"] > 0 and time.monotonic() - began > 8, 90, 0.5
    )
    fig["captions_before"] = snapshot(server, space)["captions"]
    fig.check(bool(captioned), "no caption was stored before the crash")
    time.sleep(2.5)  # mid-second: part of the last second's audio is not yet flushed
    before = snapshot(server, space)
    killed_at = time.monotonic()
    orphans = reap(server.kill9(), 5.0)
    fig["orphans_killed"] = len(orphans)
    fig.check(not orphans, f"{len(orphans)} child processes outlived the server")
    after = snapshot(server, space)
    integrity = server.sql("PRAGMA integrity_check")[0][0]
    fig["integrity"] = integrity
    same = {k: before[k] == after[k] for k in before if k != "captions"}
    fig["rows_kept"] = all(same.values())
    fig["captions_kept"] = after["captions"]
    fig.check(all(same.values()), f"changed by the crash: {[k for k, v in same.items() if not v]}")
    fig.check(after["captions"] >= before["captions"], "captions lost")
    fig.check(integrity == "ok", f"integrity_check: {integrity}")
    return before, killed_at


def check_recording(path: Path, first_audio: float, killed_at: float, fig: Figures) -> None:
    """The recording is readable up to the last seconds before the kill, and not silent."""
    audio, rate = sf.read(str(path), dtype="int16")
    kept = len(audio) / rate
    streamed = killed_at - first_audio
    fig["recorded_s"] = kept
    fig["streamed_s"] = streamed
    fig["recording_lost_s"] = streamed - kept
    tail = audio[-rate * 3 :].astype(np.float64)
    fig["recording_tail_rms"] = float(np.sqrt(np.mean(tail**2))) if len(tail) else 0.0
    fig.check(streamed - kept <= 3.0, f"{streamed - kept:.1f} s of the recording lost")
    fig.check(fig["recording_tail_rms"] > 100, "the recording's last seconds are silent")


def restart(server: LiveServer, clients: list, pages: list, ear, killed_at: float, fig) -> None:
    """The same port and data: every client comes back, audio is heard, pages get their state."""
    down_for = time.monotonic() - killed_at
    server.start()
    up = time.monotonic()
    fig["restart_s"] = up - killed_at - down_for
    back = wait_until(lambda: all(any(t >= up for t in c.connects) for c in clients), 15, 0.05)
    fig["all_reconnected"] = bool(back)
    fig["reconnect_s"] = (
        max(min(t for t in c.connects if t >= up) for c in clients) - up if back else None
    )
    heard = wait_until(lambda: ear.first_audible_after(up), 15, 0.05)
    fig["audible_after_restart_s"] = heard - up if heard else None
    fig.check(bool(back), "not every client reconnected within 15 s")
    fig.check(heard is not None, "no audio after the restart")
    time.sleep(12)  # past the grace period: nobody who came back may have been dropped
    full_states = [c for c in pages if any(t >= up and 'id="my-controls"' in x for t, x in c.texts)]
    fig["pages_resynced"] = len(full_states)
    fig.check(len(full_states) == len(pages), "a page did not get its full state again")
