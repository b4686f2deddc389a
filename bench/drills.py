"""Load and fault drills (issue 8): each starts its own Spaces server as `make run` does and
measures one thing under load or under a fault. Loopback only, every drill bounded in time.

    python bench/drills.py                 # every drill, full length (L1 soaks for 10 minutes)
    python bench/drills.py L2 F2 --quick   # some drills, short versions
    python bench/drills.py L1 --listeners 750 --minutes 10

L1  11 speakers (real speech, real-time pace) and N listeners (the fan-out benchmark's largest
    passing N) for 10 minutes: frames lost to healthy listeners, server RSS at minute 1 and at the
    end (within 10 %), latency p50/p99.
L2  200 people join and leave a Space within 10 s while speakers talk: presence at the end (the
    database, the room page's Listeners count and the last pushed fragment), HTTP errors, HTTP
    p95 under 3 s, and how long the burst took to absorb (churn_s).
L3  HTMX round trip (request to speak / cancel, HX-Request POST) with 500 listeners connected to
    the live and audio sockets: p50/p95 of the response and of the push to the host's page.
L4  40 speaker grants at once over HTTP from 40 threads: exactly 11 on stage.
F1  kill -9 of the server in a live Space with speakers streaming and captions on; restart on the
    same port and data: rows, roles, recording up to the last seconds, clients reconnect.
F2  clients that stop reading (tiny receive buffers): the others keep 50 frames/s, they are dropped.
F3  a speaker's network drops for 5 s (a proxy that stops moving bytes): role kept, audio resumes.
F4  disk full while recording (a 300 KiB tmpfs mounted on DATA_DIR/recordings, or ENOSPC injected):
    audio goes on, /admin/health names the error, nothing corrupt.
F5  caption model missing, then the caption worker killed mid-run: audio unaffected, "Captions
    unavailable" on the room page.
F6  the database locked by another process (BEGIN EXCLUSIVE) for 2 s, then past the busy timeout:
    requests wait or get a clean 503, nothing acknowledged is lost, audio and presence go on.

Each drill prints one line, `drill NAME ok|FAIL key=value ... seconds=S`, and the run ends with a
summary line. docs/reliability.md has the figures.
"""

import argparse
import contextlib
import inspect
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _clients as clients  # noqa: E402
from bench import _drill_kit as kit  # noqa: E402
from bench import audio_fanout as fanout  # noqa: E402

DRILLS = ["L1", "L2", "L3", "L4", "F1", "F2", "F3", "F4", "F5", "F6"]
# L1's listeners: the largest count bench/audio_fanout.py passed on this machine (p99 <= 100 ms, no
# frame lost; 1000 lost frames). --listeners 1000 shows what happens beyond it.
L1_LISTENERS = 750


class DrillTimeout(Exception):
    pass


class Figures(dict):
    """The figures of one drill, in the order they were set; `fail()` notes why it failed."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []

    def check(self, condition: bool, why: str) -> bool:
        if not condition:
            self.failures.append(why)
        return condition


def fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.1f}" if abs(value) >= 10 or value == 0 else f"{value:.2f}"
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


class RecordingPool(fanout.Pool):
    """The benchmark's listener pool, remembering the last window's per-socket figures."""

    last_stop: list = []

    def ask(self, command: tuple) -> list:
        replies = super().ask(command)
        if command[0] == "stop":
            self.last_stop = replies
        return replies

    def rates(self) -> list[float]:
        """Frames per second of every open socket that received audio in the last window."""
        out = []
        for _, w0, w1, _cpu, figures in self.last_stop:
            out += [f / (w1 - w0) for ok, f, _b, _bursts, _e in figures if ok and f > 0]
        return out

    def shut(self) -> None:
        """Closes every socket (best effort: a drill may have failed half-way) and the workers."""
        with contextlib.suppress(Exception):
            self.close()
        self.exit()

    def closed(self) -> list[str]:
        return [e or "closed" for *_, figures in self.last_stop for ok, *_r, e in figures if not ok]


def make_pool(count: int) -> RecordingPool:
    """The benchmark's pool of listener processes, whatever tuning knobs its version takes (it
    is still being tuned): one process in four probes latency, the others count every frame."""
    knobs = {"batch": 0.002, "probe_every": 4, "lazy_every": 0.04, "nice": 0}
    wanted = inspect.signature(fanout.Pool.__init__).parameters
    return RecordingPool(count, **{k: v for k, v in knobs.items() if k in wanted})


def stream_speech(server: kit.Server, room: str, people: list) -> fanout.Speakers:
    """The fan-out benchmark's speakers: each person streams real speech on the room's audio."""
    return fanout.Speakers(server.port, [(room + "/audio", p.cookie) for p in people])


def measure(pool, speakers, server, seconds: float) -> fanout.Step:
    """One measuring window of the fan-out benchmark (latency, frames lost, dropped, CPU, RSS)."""
    step = fanout.Step("spaces", 0)
    return fanout.measure(
        step, pool, speakers, server.pid, SimpleNamespace(window=seconds, quiet_wait=0)
    )


def join_many(port: int, room: str, crowd: list, threads: int = 8) -> list[str]:
    """Each person opens the room page and joins over HTTP; answers their session cookies."""

    def one(person) -> str:
        person.page(room)
        person.post(room + "/join")
        return person.cookie

    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, crowd))


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def usernames(html: str) -> list[str]:
    return re.findall(r'class="username" href="[^"]*">([^<]+)</a>', html)


def present(server: kit.Server, space: int) -> dict[int, str]:
    rows = server.sql(
        "SELECT user_id, role FROM participants WHERE space_id = ? AND present = 1", (space,)
    )
    return dict(rows)


# L1 ----------------------------------------------------------------------------------------------


def drill_l1(args, tmp: Path, fig: Figures) -> None:
    n = args.listeners or (60 if args.tiny else 200 if args.quick else L1_LISTENERS)
    seconds = (args.minutes or (0.25 if args.tiny else 1 if args.quick else 10)) * 60
    server = kit.Server(tmp / "l1")
    speakers_names = [f"l1speaker{i:02d}" for i in range(fanout.SPEAKERS)]
    crowd_names = [f"l1listener{i:05d}" for i in range(n)]
    everyone = kit.people(server, speakers_names + crowd_names)
    host, stage, crowd = everyone[0], everyone[1 : fanout.SPEAKERS], everyone[fanout.SPEAKERS :]
    pool = make_pool(max(2, -(-n // 300)))
    speakers = None
    try:
        server.start()
        space = kit.open_space(host, "L1 soak")
        room = f"/spaces/{space}"
        kit.seat(host, stage, space)
        speakers = stream_speech(server, room, [host, *stage])
        t = time.monotonic()
        for start in range(0, n, 100):
            pool.connect(
                server.port,
                room + "/audio",
                join_many(server.port, room, crowd[start : start + 100]),
            )
        replies = pool.ask(("sync",))
        fig["listeners"] = sum(r[1] for r in replies)
        fig["speakers"] = fanout.SPEAKERS
        fig["ramp_s"] = time.monotonic() - t
        fig.check(fig["listeners"] == n, f"only {fig['listeners']} of {n} listeners connected")
        time.sleep(5)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            for k in range(1, 11):
                if stop.wait(max(0.0, t0 + k * seconds / 10 - time.monotonic())):
                    return
                rss.append((time.monotonic() - t0, server.rss_mb()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        step = measure(pool, speakers, server, seconds)
        stop.set()
        sampler.join(5)
        fig["minutes"] = seconds / 60
        fig["lost"] = step.lost
        fig["lossy_listeners"] = step.lossy
        fig["missing_bursts"] = step.missing
        fig["dropped"] = step.dropped
        fig["p50_ms"] = step.p50_ms
        fig["p99_ms"] = step.p99_ms
        fig["max_ms"] = step.max_ms
        fig["fps_min"] = min(pool.rates(), default=0.0)
        fig["server_cpu_pct"] = step.server_cpu
        first = rss[0][1] if rss else float("nan")
        last = rss[-1][1] if rss else float("nan")
        fig["rss_first_mb"] = first
        fig["rss_last_mb"] = last
        fig["rss_change_pct"] = 100 * (last - first) / first if first else float("nan")
        fig["rss_series_mb"] = "/".join(f"{m:.0f}" for _, m in rss)
        fig.check(step.samples > 0, "no latency samples")
        fig.check(step.lost == 0 and step.missing == 0, f"{step.lost} frames lost")
        fig.check(step.dropped == 0, f"{step.dropped} listeners dropped")
        fig.check(abs(fig["rss_change_pct"]) <= 10, "RSS moved more than 10 %")
    finally:
        if speakers:
            speakers.stop()
        pool.shut()
        server.stop()


# L2 ----------------------------------------------------------------------------------------------


def drill_l2(args, tmp: Path, fig: Figures) -> None:
    n = 40 if args.tiny else 200
    span = 4.0 if args.tiny else 10.0
    grace = 2.0 if args.tiny else 10.0  # PRESENCE_GRACE_SECONDS (10 s is the product's default)
    server = kit.Server(tmp / "l2", PRESENCE_GRACE_SECONDS=str(grace))
    crowd_names = [f"l2person{i:03d}" for i in range(n)]
    everyone = kit.people(server, ["l2host", "l2voice1", "l2voice2", *crowd_names])
    host, stage, crowd = everyone[0], everyone[1:3], everyone[3:]
    rng = random.Random(8)
    # What each one does: stays; leaves with the Leave button; closes the tab (sockets drop);
    # or loses the connection and comes back within a second (stays).
    plan = ["stay"] * (n // 4) + ["button"] * (3 * n // 8) + ["tab"] * (n // 4)
    plan += ["reconnect"] * (n - len(plan))
    rng.shuffle(plan)
    arrive = [rng.uniform(0, span / 4 * 3) for _ in range(n)]
    stay_for = [rng.uniform(0.3, 2.0) for _ in range(n)]
    drain = kit.Drain()
    speakers = None
    watcher = None
    errors: list[str] = []
    counts = {"joins": 0, "leaves": 0, "reconnects": 0, "requests": 0}
    latencies: list[float] = []  # HTTP requests
    handshakes: list[float] = []  # both sockets of one page
    lock = threading.Lock()
    try:
        server.start()
        space = kit.open_space(host, "L2 churn")
        room = f"/spaces/{space}"
        kit.seat(host, stage, space)
        speakers = stream_speech(server, room, [host, *stage])
        watcher = kit.Ear(server.port, room + "/live", host)
        watcher.start()
        drain.start()
        start = time.monotonic() + 0.5

        def request(person, method, path, data=None) -> None:
            t = time.monotonic()
            status, body = person.status(method, path, data, htmx=method == "POST")
            with lock:
                counts["requests"] += 1
                latencies.append(time.monotonic() - t)
            if status != 200:
                raise RuntimeError(f"{method} {path}: {status} {body[:100]}")
            if method == "GET":
                token = clients.CSRF_RE.search(body)
                if token:
                    person.token = token.group(1)

        def sockets(person) -> list:
            t = time.monotonic()
            live = kit.connect_ws(server.port, room + "/live", person.cookie)
            audio = kit.connect_ws(server.port, room + "/audio", person.cookie)
            with lock:
                handshakes.append(time.monotonic() - t)
            drain.add(live, f"{person.username} live")
            drain.add(audio, f"{person.username} audio")
            return [live, audio]

        def life(i: int) -> None:
            person, what = crowd[i], plan[i]
            time.sleep(max(0.0, start + arrive[i] - time.monotonic()))
            try:
                request(person, "GET", room)
                request(person, "POST", room + "/join")
                socks = sockets(person)
                with lock:
                    counts["joins"] += 1
                time.sleep(stay_for[i])
                if what == "button":
                    request(person, "POST", room + "/leave")
                if what in ("button", "tab", "reconnect"):
                    for s in socks:
                        drain.close(s)
                if what in ("button", "tab"):
                    with lock:
                        counts["leaves"] += 1
                if what == "reconnect":
                    time.sleep(0.3)
                    sockets(person)
                    with lock:
                        counts["reconnects"] += 1
            except Exception as exc:  # noqa: BLE001 (every failure is a finding)
                with lock:
                    errors.append(f"{person.username} ({what}): {exc}"[:200])

        lives = [threading.Thread(target=life, args=(i,), daemon=True) for i in range(n)]
        cpu0 = clients.cpu_seconds(server.pid)
        for thread in lives:
            thread.start()
        for thread in lives:
            thread.join(max(0.1, start + span + 50 - time.monotonic()))
        fig["churn_s"] = time.monotonic() - start
        fig["server_cpu_s"] = clients.cpu_seconds(server.pid) - cpu0
        fig.update(counts)
        fig["http_errors"] = len(errors)
        fig["http_p50_ms"] = kit.percentile(latencies, 50) * 1000
        fig["http_p95_ms"] = kit.percentile(latencies, 95) * 1000
        fig["sockets_p95_ms"] = kit.percentile(handshakes, 95) * 1000
        staying = {
            p.id for p, what in zip(crowd, plan, strict=True) if what in ("stay", "reconnect")
        }
        expected = {host.id: "host", **{p.id: "speaker" for p in stage}}
        expected.update({uid: "listener" for uid in staying})
        # Tab-closers leave when the grace period runs out (the reaper runs every second).
        settled = kit.wait_until(lambda: present(server, space) == expected, grace + 10, 0.5)
        fig["settle_s"] = time.monotonic() - start - fig["churn_s"]
        now_present = present(server, space)
        fig["present"] = len(now_present)
        fig["expected"] = len(expected)
        html = host.page(room)
        count = kit.listening_count(html)
        shown = set(usernames(section(html, "listeners")))
        names = {p.username for p in crowd if p.id in staying}
        fig["page_listeners"] = count
        time.sleep(1.0)  # the hub's last push
        pushed = [t for _, t in watcher.texts if 'id="listeners"' in t]
        fig["pushed_listeners"] = kit.listening_count(pushed[-1]) if pushed else None
        presence_ok = (
            bool(settled)
            and count == len(staying)
            and shown <= names
            and fig["pushed_listeners"] == len(staying)
        )
        fig["presence_ok"] = presence_ok
        fig["server_closed_sockets"] = len(drain.server_closed)
        fig.check(not errors, "; ".join(errors[:3]))
        # The bar is presence and errors; the time the burst took to absorb is a figure
        # (churn_s: scheduled over `span`, longer when requests queue). p95 bounds the queueing:
        # before the fixes of 2026-11-25 it reached 12 s.
        fig.check(fig["http_p95_ms"] < 3000, "HTTP p95 over 3 s: requests queued")
        fig.check(
            presence_ok,
            f"present {len(now_present)} != expected {len(expected)}"
            f" or page count {count} / pushed {fig['pushed_listeners']} != {len(staying)}",
        )
        fig.check(not drain.server_closed, f"server closed {drain.server_closed[:3]}")
    finally:
        drain.stop()
        if watcher:
            watcher.stop()
        if speakers:
            speakers.stop()
        server.stop()


# L3 ----------------------------------------------------------------------------------------------


def drill_l3(args, tmp: Path, fig: Figures) -> None:
    n = 50 if args.tiny else 100 if args.quick else 500
    actions = 20 if args.tiny else 40 if args.quick else 200
    server = kit.Server(tmp / "l3")
    crowd_names = [f"l3listener{i:04d}" for i in range(n)]
    everyone = kit.people(server, ["l3host", "l3voice1", "l3voice2", "l3actor", *crowd_names])
    host, stage, actor, crowd = everyone[0], everyone[1:3], everyone[3], everyone[4:]
    pool = make_pool(max(2, -(-2 * n // 300)))
    speakers = None
    ears: list[kit.Ear] = []
    try:
        server.start()
        space = kit.open_space(host, "L3 round trips")
        room = f"/spaces/{space}"
        kit.seat(host, stage, space)
        speakers = stream_speech(server, room, [host, *stage])
        for start in range(0, n, 100):
            cookies = join_many(server.port, room, crowd[start : start + 100])
            pool.connect(server.port, room + "/live", cookies)
            pool.connect(server.port, room + "/audio", cookies)
        replies = pool.ask(("sync",))
        fig["listeners"] = n
        fig["sockets"] = sum(r[1] for r in replies)
        fig.check(fig["sockets"] == 2 * n, f"only {fig['sockets']} of {2 * n} sockets opened")
        kit.join(actor, space)
        host_page = kit.Ear(server.port, room + "/live", host)
        actor_page = kit.Ear(server.port, room + "/live", actor, keep_text=False)
        actor_audio = kit.Ear(server.port, room + "/audio", actor, keep_text=False)
        ears = [host_page, actor_page, actor_audio]
        for ear in ears:
            ear.start()
            ear.connected.wait(5)
        actor.page(room)
        time.sleep(3)
        pool.ask(("start",))
        rng = random.Random(3)
        trips, pushes, errors = [], [], []
        for i in range(actions):
            time.sleep(rng.uniform(0.05, 0.15))
            asking = i % 2 == 0
            action = "request" if asking else "cancel-request"
            t = time.monotonic()
            status, body = actor.status("POST", f"{room}/{action}")
            trips.append(time.monotonic() - t)
            if status != 200:
                errors.append(f"{action}: {status} {body[:80]}")
                continue

            def shows(text: str, a=asking) -> bool:
                return (
                    'id="requests"' in text and (actor.username in section(text, "requests")) == a
                )

            at = host_page.wait_text(shows, t, 3.0)
            if at is None:
                errors.append(f"{action}: no push to the host's page within 3 s")
            else:
                pushes.append(at - t)
        pool.ask(("stop",))
        ms = 1000
        fig["actions"] = actions
        fig["http_p50_ms"] = kit.percentile(trips, 50) * ms
        fig["http_p95_ms"] = kit.percentile(trips, 95) * ms
        fig["push_p50_ms"] = kit.percentile(pushes, 50) * ms
        fig["push_p95_ms"] = kit.percentile(pushes, 95) * ms
        fig["errors"] = len(errors)
        rates = pool.rates()
        fig["audio_fps_min"] = min(rates, default=0.0)
        fig["dropped"] = len(pool.closed())
        fig.check(not errors, "; ".join(errors[:3]))
        fig.check(fig["http_p95_ms"] < 1000 and fig["push_p95_ms"] < 1000, "p95 over 1 s")
        fig.check(fig["dropped"] == 0, f"{fig['dropped']} sockets closed: {pool.closed()[:3]}")
    finally:
        for ear in ears:
            ear.stop()
        if speakers:
            speakers.stop()
        pool.shut()
        server.stop()


# L4 ----------------------------------------------------------------------------------------------


def drill_l4(args, tmp: Path, fig: Figures) -> None:
    rounds = 1 if args.quick else 3
    n = 40
    server = kit.Server(tmp / "l4")
    everyone = kit.people(server, ["l4host", *[f"l4hopeful{i:02d}" for i in range(n)]])
    host, crowd = everyone[0], everyone[1:]
    stages, granted, refused, others = [], 0, 0, []
    try:
        server.start()
        for r in range(rounds):
            space = kit.open_space(host, f"L4 round {r + 1}")
            room = f"/spaces/{space}"
            join_many(server.port, room, crowd)
            for person in crowd[: n // 2]:  # half ask first and are approved, half are made
                person.post(room + "/request")
            host.page(room)
            hosts = [host.clone() for _ in range(n)]
            barrier = threading.Barrier(n)

            def grant(i: int, hosts=hosts, room=room, barrier=barrier) -> int:
                action = "approve" if i < n // 2 else "make-speaker"
                barrier.wait(10)
                return hosts[i].status("POST", f"{room}/people/{crowd[i].id}/{action}")[0]

            with ThreadPoolExecutor(n) as ex:
                statuses = list(ex.map(grant, range(n)))
            stage = server.sql(
                "SELECT COUNT(*) FROM participants WHERE space_id = ? AND present = 1"
                " AND role IN ('host', 'speaker')",
                (space,),
            )[0][0]
            page = host.page(room)
            on_page = len(usernames(section(page, "stage")))
            stages.append(stage)
            granted += statuses.count(200)
            refused += statuses.count(409)
            others += [s for s in statuses if s not in (200, 409)]
            fig.check(stage == 11, f"round {r + 1}: {stage} on stage")
            fig.check(on_page == 11, f"round {r + 1}: the page shows {on_page} on stage")
            fig.check(statuses.count(200) == 10, f"round {r + 1}: {statuses.count(200)} granted")
            host.post(room + "/end")
        fig["rounds"] = rounds
        fig["threads"] = n
        fig["on_stage"] = "/".join(map(str, stages))
        fig["granted"] = granted
        fig["refused_409"] = refused
        fig["other_statuses"] = len(others)
        fig.check(not others, f"statuses {sorted(set(others))}")
    finally:
        server.stop()


# F1 ----------------------------------------------------------------------------------------------


def snapshot(server: kit.Server, space: int) -> dict:
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


def drill_f1(args, tmp: Path, fig: Figures) -> None:
    import numpy as np
    import soundfile as sf

    data = tmp / "f1"
    server = kit.Server(data, CAPTIONS="1")
    host, voice, ear_person, asker, admin = kit.people(
        server, ["f1host", "f1voice", "f1listener", "f1asker", "f1admin"]
    )
    kit.make_admin(server, admin.id)
    clients_ = []
    restarted = None
    try:
        server.start()
        space = kit.open_space(host, "F1 crash")
        room = f"/spaces/{space}"
        kit.seat(host, [voice], space)
        for person in (ear_person, asker):
            kit.join(person, space)
        asker.post(room + "/request")
        for person in (host, voice):
            person.post(room + "/captions-consent", {"allow": "1"})
        ear_person.post("/reports/new", {"space": str(space), "reason": "spam", "details": "F1"})
        ear_person.post("/posts", {"body": "written before the crash"})
        ready = kit.wait_until(lambda: captions_state(admin).get("available"), 90, 0.5)
        fig["captions_ready"] = bool(ready)
        listener_audio = kit.Ear(server.port, room + "/audio", ear_person, reconnect=True)
        pages = [
            kit.Ear(server.port, room + "/live", p, reconnect=True)
            for p in (host, voice, ear_person, asker)
        ]
        mouths = [
            kit.Mouth(server.port, room + "/audio", host, kit.speech(1), reconnect=True),
            kit.Mouth(server.port, room + "/audio", voice, kit.speech(2), reconnect=True),
        ]
        clients_ = [listener_audio, *pages, *mouths]
        for c in clients_:
            c.start()
        listener_audio.connected.wait(5)
        began = time.monotonic()
        captioned = kit.wait_until(
            lambda: snapshot(server, space)["captions"] > 0 and time.monotonic() - began > 8,
            90,
            0.5,
        )
        fig["captions_before"] = snapshot(server, space)["captions"]
        fig.check(bool(captioned), "no caption was stored before the crash")
        time.sleep(2.5)  # mid-second: part of the last second's audio is not yet flushed
        first_audio = min(c.connects[0] for c in (listener_audio, *mouths) if c.connects)
        before = snapshot(server, space)
        killed_at = time.monotonic()
        children = server.kill9()
        orphans = kit.reap(children, 5.0)
        fig["orphans_killed"] = len(orphans)
        fig.check(not orphans, f"{len(orphans)} child processes outlived the server")
        after = snapshot(server, space)
        integrity = server.sql("PRAGMA integrity_check")[0][0]
        fig["integrity"] = integrity
        same = {k: before[k] == after[k] for k in before if k != "captions"}
        fig["rows_kept"] = all(same.values())
        fig["captions_kept"] = after["captions"]
        fig.check(
            all(same.values()), f"changed by the crash: {[k for k, v in same.items() if not v]}"
        )
        fig.check(after["captions"] >= before["captions"], "captions lost")
        fig.check(integrity == "ok", f"integrity_check: {integrity}")
        recording = data / "recordings" / f"space-{space}.ogg"
        audio, rate = sf.read(str(recording), dtype="int16")
        kept = len(audio) / rate
        streamed = killed_at - first_audio
        fig["recorded_s"] = kept
        fig["streamed_s"] = streamed
        fig["recording_lost_s"] = streamed - kept
        tail = audio[-rate * 3 :].astype(np.float64)
        fig["recording_tail_rms"] = float(np.sqrt(np.mean(tail**2))) if len(tail) else 0.0
        fig.check(streamed - kept <= 3.0, f"{streamed - kept:.1f} s of the recording lost")
        fig.check(fig["recording_tail_rms"] > 100, "the recording's last seconds are silent")

        restarted = kit.Server(data, port=server.port, CAPTIONS="1")
        down_for = time.monotonic() - killed_at
        restarted.start()
        up = time.monotonic()
        fig["restart_s"] = up - killed_at - down_for
        back = kit.wait_until(
            lambda: all(any(t >= up for t in c.connects) for c in clients_), 15, 0.05
        )
        fig["all_reconnected"] = bool(back)
        fig["reconnect_s"] = (
            max(min(t for t in c.connects if t >= up) for c in clients_) - up if back else None
        )
        heard = kit.wait_until(lambda: listener_audio.first_audible_after(up), 15, 0.05)
        fig["audible_after_restart_s"] = heard - up if heard else None
        fig.check(bool(back), "not every client reconnected within 15 s")
        fig.check(heard is not None, "no audio after the restart")
        time.sleep(12)  # past the grace period: nobody who came back may have been dropped
        resumed = snapshot(restarted, space)
        fig["roles_kept"] = resumed["roles"] == before["roles"]
        fig.check(fig["roles_kept"], f"roles after the restart: {resumed['roles']}")
        status, page = ear_person.status("GET", room, htmx=False)
        fig["room_page"] = status
        fig.check(status == 200 and "F1 crash" in page, f"the room page answered {status}")
        full_states = [
            c for c in pages if any(t >= up and 'id="my-controls"' in x for t, x in c.texts)
        ]
        fig["pages_resynced"] = len(full_states)
        fig.check(len(full_states) == len(pages), "a page did not get its full state again")
        parts = restarted.sql(
            "SELECT path FROM recordings WHERE space_id = ? ORDER BY id", (space,)
        )
        fig["recording_parts"] = len(parts)
        part1 = data / "recordings" / f"space-{space}.part1.ogg"
        fig.check(len(parts) == 2 and part1.exists(), "no second recording part")
    finally:
        for c in clients_:
            c.stop()
        if restarted:
            restarted.stop()
        if server.alive():
            server.stop()


# F2 ----------------------------------------------------------------------------------------------


def drill_f2(args, tmp: Path, fig: Figures) -> None:
    n = 50 if args.quick else 200
    window = 8.0 if args.quick else 20.0
    stalled_n = 3
    server = kit.Server(tmp / "f2")
    names = ["f2host", "f2voice1", "f2voice2", "f2watcher", "f2stuckpage"]
    names += [f"f2stuck{i}" for i in range(stalled_n)] + [f"f2listener{i:03d}" for i in range(n)]
    everyone = kit.people(server, names)
    host, stage, watcher_p, stuck_page = everyone[0], everyone[1:3], everyone[3], everyone[4]
    stuck = everyone[5 : 5 + stalled_n]
    crowd = everyone[5 + stalled_n :]
    pool = make_pool(2)
    speakers = None
    stalled = []
    watcher = None
    try:
        server.start()
        space = kit.open_space(host, "F2 slow readers")
        room = f"/spaces/{space}"
        kit.seat(host, stage, space)
        speakers = stream_speech(server, room, [host, *stage])
        for start in range(0, n, 50):  # each opens the socket within the presence grace period
            batch = crowd[start : start + 50]
            pool.connect(server.port, room + "/audio", join_many(server.port, room, batch))
        pool.ask(("sync",))
        kit.join(watcher_p, space)
        watcher = kit.Ear(server.port, room + "/live", watcher_p)
        watcher.start()
        time.sleep(3)
        before = measure(pool, speakers, server, window / 2)
        fps_before = min(pool.rates(), default=0.0)
        for person in [*stuck, stuck_page]:  # joined now: a socket must follow within the grace
            kit.join(person, space)
        for person in stuck:
            stalled.append(
                ("audio", kit.stalled_socket(server.port, room + "/audio", person.cookie))
            )
        stalled.append(("live", kit.stalled_socket(server.port, room + "/live", stuck_page.cookie)))
        opened = time.monotonic()
        ports = [(kind, s.getsockname()[1]) for kind, s in stalled]
        dropped_at: dict[int, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() and len(dropped_at) < len(ports):
                for _, port in ports:
                    if port not in dropped_at and kit.tcp_state(server.port, port) != "ESTABLISHED":
                        dropped_at[port] = time.monotonic() - opened
                time.sleep(0.1)

        def edits() -> None:
            description = "\N{STUDIO MICROPHONE}" * 280  # the longest: ~2 KB per push
            for i in range(60):
                if stop.wait(0.2):
                    return
                title = f"Round {i}"
                t = time.monotonic()
                host.post(room + "/edit", {"title": title, "description": description})
                at = watcher.wait_text(lambda x, title=title: f">{title}<" in x, t, 3.0)
                push_delays.append((at - t) if at else float("inf"))

        push_delays: list[float] = []
        threads = [threading.Thread(target=f, daemon=True) for f in (watch, edits)]
        for thread in threads:
            thread.start()
        after = measure(pool, speakers, server, window)
        fps_after = min(pool.rates(), default=0.0)
        kit.wait_until(lambda: len(dropped_at) == len(ports), 30, 0.2)
        stop.set()
        for thread in threads:
            thread.join(5)
        fig["healthy"] = n
        fig["stalled"] = f"{stalled_n}audio+1live"
        fig["fps_min_before"] = fps_before
        fig["fps_min_during"] = fps_after
        fig["lost_before"] = before.lost
        fig["lost_during"] = after.lost
        fig["p99_ms_before"] = before.p99_ms
        fig["p99_ms_during"] = after.p99_ms
        fig["healthy_dropped"] = before.dropped + after.dropped
        audio_drops = [dropped_at.get(p) for kind, p in ports if kind == "audio"]
        live_drops = [dropped_at.get(p) for kind, p in ports if kind == "live"]
        fig["stalled_audio_dropped_s"] = max(audio_drops) if None not in audio_drops else None
        fig["stalled_live_dropped_s"] = live_drops[0]
        fig["push_max_ms"] = 1000 * max(push_delays, default=float("nan"))
        fig.check(fps_after >= 49.0, f"a healthy listener fell to {fps_after:.1f} frames/s")
        fig.check(after.lost == 0 and after.dropped == 0, "healthy listeners lost frames")
        fig.check(None not in audio_drops and None not in live_drops, "a stalled client stayed")
        fig.check(fig["push_max_ms"] < 1000, "pushes to a healthy page were delayed")
        # Dropped and not back: after the grace period the stalled listeners have left.
        grace_left = kit.wait_until(
            lambda: not set(present(server, space)) & {p.id for p in stuck}, 20, 0.5
        )
        fig["stalled_left_room"] = bool(grace_left)
        fig.check(bool(grace_left), "dropped listeners still present after the grace period")
    finally:
        for _, s in stalled:
            with contextlib.suppress(OSError):
                s.close()
        if watcher:
            watcher.stop()
        if speakers:
            speakers.stop()
        pool.shut()
        server.stop()


# F3 ----------------------------------------------------------------------------------------------


def drill_f3(args, tmp: Path, fig: Figures) -> None:
    outage = 5.0
    server = kit.Server(tmp / "f3")
    host, voice, listener = kit.people(server, ["f3host", "f3voice", "f3listener"])
    proxy = kit.Proxy(server.port)
    parts = []
    try:
        server.start()
        proxy.start()
        space = kit.open_space(host, "F3 flaky network")
        room = f"/spaces/{space}"
        kit.seat(host, [voice], space)
        host.post(room + "/mic", {"on": "0"})  # only the speaker on the flaky network talks
        kit.join(listener, space)
        ear = kit.Ear(server.port, room + "/audio", listener, keep_text=False)
        # The speaker's room page and microphone both go through the network that drops.
        voice_page = kit.Ear(proxy.port, room + "/live", voice, reconnect=True)
        mouth = kit.Mouth(server.port, room + "/audio", voice, kit.speech(3), True, 1.0, proxy.port)
        parts = [ear, voice_page, mouth]
        for part in parts:
            part.start()
        time.sleep(4)
        t0 = time.monotonic()
        fig["audible_before"] = ear.count(t0 - 3, t0, audible_only=True) > 0
        proxy.drop()
        time.sleep(outage)
        fig["listener_fps_during"] = ear.rate(t0 + 0.5, t0 + outage - 0.5)
        in_outage = present(server, space).get(voice.id)
        back = time.monotonic()
        proxy.restore()
        heard = kit.wait_until(lambda: ear.first_audible_after(back), 10, 0.02)
        reconnected = [t for t in mouth.connects if t >= back]
        fig["outage_s"] = outage
        fig["role_during_outage"] = in_outage
        fig["reconnect_s"] = reconnected[0] - back if reconnected else None
        fig["audible_after_s"] = heard - back if heard else None
        time.sleep(1)
        role = server.sql(
            "SELECT role, mic_on FROM participants WHERE space_id = ? AND user_id = ?",
            (space, voice.id),
        )
        fig["role_after"] = role[0][0] if role else None
        fig["mic_after"] = bool(role and role[0][1])
        page_back = [x for t, x in voice_page.texts if t >= back and 'id="my-controls"' in x]
        fig["page_says_mic_on"] = bool(page_back) and "Turn off microphone" in page_back[-1]
        fig.check(fig["audible_before"], "the speaker was not heard before the outage")
        fig.check(fig["listener_fps_during"] >= 49, "the listener's stream faltered in the outage")
        fig.check(fig["role_after"] == "speaker" and fig["mic_after"], "the speaker lost the stage")
        fig.check(fig["page_says_mic_on"], "the speaker's page did not come back on stage")
        fig.check(heard is not None and heard - back < 3.0, "audio did not resume within 3 s")
    finally:
        for part in parts:
            part.stop()
        proxy.stop()
        server.stop()


# F4 ----------------------------------------------------------------------------------------------

ENOSPC_HOOK = Path(__file__).resolve().parent / "enospc"  # its sitecustomize.py


def drill_f4(args, tmp: Path, fig: Figures) -> None:
    import soundfile as sf

    data = tmp / "f4"
    recordings = data / "recordings"
    recordings.mkdir(parents=True)
    env = {}
    mounted = False
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(recordings)],
            capture_output=True,
        ).returncode
        == 0
    ):
        mounted = True
        # Leave ~64 KiB free, so two voices (~4 KB/s of Opus) fill it in about 15 s.
        free = os.statvfs(recordings).f_bavail * os.statvfs(recordings).f_frsize
        filler = max(0, free - 64 * 1024)
        (recordings / "filler").write_bytes(b"\0" * filler)
        fig["disk"] = "tmpfs300k"
    else:
        env = {"PYTHONPATH": str(ENOSPC_HOOK), "ENOSPC_AFTER_FRAMES": "750"}
        fig["disk"] = "injected-ENOSPC"
    server = kit.Server(data, **env)
    host, voice, listener, admin = kit.people(server, ["f4host", "f4voice", "f4ear", "f4admin"])
    kit.make_admin(server, admin.id)
    parts = []
    try:
        server.start()
        space = kit.open_space(host, "F4 full disk")
        room = f"/spaces/{space}"
        kit.seat(host, [voice], space)
        kit.join(listener, space)
        ear = kit.Ear(server.port, room + "/audio", listener, keep_text=False)
        parts = [
            ear,
            kit.Mouth(server.port, room + "/audio", host, kit.speech(1)),
            kit.Mouth(server.port, room + "/audio", voice, kit.speech(4)),
        ]
        for part in parts:
            part.start()
        ear.connected.wait(5)
        began = time.monotonic()

        def health_error():
            status, html = admin.status("GET", "/admin/health", htmx=False)
            found = re.search(rf"<li>Space {space}: ([^<]+)</li>", html)
            return found.group(1) if status == 200 and found else None

        error = kit.wait_until(health_error, 120, 0.5)
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
        status, _ = host.status("POST", room + "/end")
        fig["end_status"] = status
        fig.check(status == 200, f"ending the Space answered {status}")
        for part in parts:
            part.stop()
        parts = []
        server.stop()
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
    finally:
        for part in parts:
            part.stop()
        server.stop()
        if mounted:
            subprocess.run(["umount", str(recordings)], capture_output=True)


# F5 ----------------------------------------------------------------------------------------------


def captions_state(admin: kit.Person) -> dict:
    """/admin/captions.json: {"available": bool, "error": str | None, "streams": [...]}."""
    status, body = admin.status("GET", "/admin/captions.json", htmx=False)
    return json.loads(body) if status == 200 else {}


def drill_f5(args, tmp: Path, fig: Figures) -> None:
    # A: no model at all.
    server = kit.Server(tmp / "f5a", CAPTIONS="1", CAPTION_MODEL="/nonexistent")
    host, listener, admin = kit.people(server, ["f5host", "f5ear", "f5admin"])
    kit.make_admin(server, admin.id)
    parts = []
    try:
        server.start()
        space = kit.open_space(host, "F5 no model")
        room = f"/spaces/{space}"
        host.post(room + "/captions-consent", {"allow": "1"})
        host.post(room + "/mic", {"on": "1"})
        kit.join(listener, space)
        listener.post(room + "/captions-view", {"on": "1"})
        state = kit.wait_until(lambda: captions_state(admin).get("error"), 30, 0.2)
        fig["missing_error"] = state
        page = listener.page(room)
        fig["missing_page_says"] = "Captions unavailable" in page
        ear = kit.Ear(server.port, room + "/audio", listener, keep_text=False)
        parts = [ear, kit.Mouth(server.port, room + "/audio", host, kit.speech(1))]
        for part in parts:
            part.start()
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

    # B: the model runs, then its process is killed mid-run.
    server = kit.Server(tmp / "f5b", CAPTIONS="1")
    host, listener, admin = kit.people(server, ["f5host", "f5ear", "f5admin"])
    kit.make_admin(server, admin.id)
    parts = []
    try:
        server.start()
        space = kit.open_space(host, "F5 crash")
        room = f"/spaces/{space}"
        host.post(room + "/captions-consent", {"allow": "1"})
        host.post(room + "/mic", {"on": "1"})
        kit.join(listener, space)
        listener.post(room + "/captions-view", {"on": "1"})
        ready = kit.wait_until(lambda: captions_state(admin).get("available"), 90, 0.5)
        fig.check(bool(ready), "the caption model never became ready")
        ear = kit.Ear(server.port, room + "/audio", listener, keep_text=False)
        page = kit.Ear(server.port, room + "/live", listener)
        parts = [ear, page, kit.Mouth(server.port, room + "/audio", host, kit.speech(1))]
        for part in parts:
            part.start()
        got = kit.wait_until(
            lambda: server.sql("SELECT COUNT(*) FROM captions WHERE space_id = ?", (space,))[0][0],
            60,
            0.5,
        )
        fig["captions_before_kill"] = got or 0
        time.sleep(max(0.0, ear.connects[0] + 6 - time.monotonic()) if ear.connects else 0)
        fig.check(bool(got), "no caption before the worker was killed")
        workers = [
            p
            for p in server.children()
            if "multiprocessing" in kit.cmdline(p) and "resource_tracker" not in kit.cmdline(p)
        ]
        fig.check(len(workers) == 1, f"caption worker processes found: {len(workers)}")
        killed = time.monotonic()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        shown = kit.wait_until(lambda: "Captions unavailable" in listener.page(room), 15, 0.2)
        fig["killed_page_says_after_s"] = time.monotonic() - killed if shown else None
        time.sleep(max(0.0, killed + 5 - time.monotonic()))
        fig["killed_fps_around"] = ear.rate(killed - 5, killed + 5)
        fig["killed_max_gap_ms"] = 1000 * ear.max_gap(killed - 5, killed + 5)
        fig["killed_audible_after"] = ear.count(killed, killed + 5, audible_only=True)
        _, health = admin.status("GET", "/admin/health", htmx=False)
        fig["health_says"] = "Captions unavailable" in health
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


# F6 ----------------------------------------------------------------------------------------------

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
print("released", flush=True)
"""


class Locker:
    """Another process that holds BEGIN EXCLUSIVE on the database for `seconds`."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(path), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "locked":
            raise RuntimeError("the locker did not get its lock")
        self.locked = time.monotonic()

    def wait(self) -> tuple[float, float]:
        """Until it lets go; answers (locked at, released at)."""
        line = self.proc.stdout.readline().strip()
        self.released = time.monotonic()
        self.proc.wait(10)
        if line != "released":
            raise RuntimeError("the locker failed")
        return self.locked, self.released


def drill_f6(args, tmp: Path, fig: Figures) -> None:
    grace = 4.0
    server = kit.Server(tmp / "f6", PRESENCE_GRACE_SECONDS=str(grace))
    names = ["f6host", "f6ear", "f6leaver", "f6newhost", *[f"f6writer{i}" for i in range(4)]]
    host, listener, leaver, newhost, *writers = kit.people(server, names)
    parts = []
    stop = threading.Event()
    results: list[tuple[float, float, str, int, str]] = []  # start, end, what, status, body
    lock = threading.Lock()
    try:
        server.start()
        space = kit.open_space(host, "F6 locked database")
        room = f"/spaces/{space}"
        host.post(room + "/mic", {"on": "1"})
        for person in [listener, leaver, *writers]:
            kit.join(person, space)
        ear = kit.Ear(server.port, room + "/audio", listener, keep_text=False)
        leaver_page = kit.Ear(server.port, room + "/live", leaver)
        pages = [
            kit.Ear(server.port, room + "/live", p, keep_text=False) for p in [listener, *writers]
        ]
        parts = [
            ear,
            leaver_page,
            *pages,
            kit.Mouth(server.port, room + "/audio", host, kit.speech(1)),
        ]
        for part in parts:
            part.start()

        def write(w: int, person: kit.Person) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                body = f"f6 post {w}-{i}"
                what = ["post", "request", "cancel-request", "read"][i % 4]
                t = time.monotonic()
                if what == "post":
                    status, text = person.status("POST", "/posts", {"body": body})
                elif what == "read":
                    status, text = person.status("GET", room, htmx=False)
                else:
                    status, text = person.status("POST", f"{room}/{what}")
                with lock:
                    results.append(
                        (t, time.monotonic(), what, status, body if what == "post" else text[:120])
                    )
                stop.wait(0.05)

        threads = [
            threading.Thread(target=write, args=(w, p), daemon=True) for w, p in enumerate(writers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(3)

        # Phase 1: 2 s, within the busy timeout (5 s): everything waits and then succeeds.
        l1, r1 = Locker(server.db_path, 2.0).wait()
        time.sleep(3)

        # Phase 2: 12 s, past the busy timeout. Meanwhile the presence reaper must remove someone
        # (their page closes as the lock begins: the reaper meets the lock `grace` s later) and a
        # new Space opens its first audio socket, which starts its recording (a row to write).
        second = kit.open_space(newhost, "F6 second Space")
        newhost.post(f"/spaces/{second}/mic", {"on": "1"})
        other = {}

        def second_space() -> None:
            time.sleep(1.0)
            mouth = kit.Mouth(server.port, f"/spaces/{second}/audio", newhost, kit.speech(2))
            mouth.start()
            other["mouth"] = mouth

        locker = Locker(server.db_path, 12.0)
        leaver_page.stop()
        closed_page = time.monotonic()
        starter = threading.Thread(target=second_space, daemon=True)
        starter.start()
        l2, r2 = locker.wait()
        starter.join(15)
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join(15)

        def phase(lo: float, hi: float) -> list:
            return [r for r in results if r[1] >= lo and r[0] <= hi]

        one, two = phase(l1, r1), phase(l2, r2)
        statuses = [r[3] for r in results]
        fig["requests"] = len(results)
        fig["lock1_s"] = r1 - l1
        fig["lock1_requests"] = len(one)
        fig["lock1_waited_max_s"] = max((r[1] - r[0] for r in one), default=0.0)
        fig["lock1_failed"] = sum(1 for r in one if r[3] != 200)
        fig["lock2_s"] = r2 - l2
        fig["lock2_requests"] = len(two)
        fig["lock2_503"] = sum(1 for r in two if r[3] == 503)
        fig["http_500"] = statuses.count(500)
        # 403/409: a domain refusal with its sentence (asking twice after a 503 left a request
        # standing, say); 503: "The server is busy. Nothing was changed". Others are not clean.
        fig["refused_4xx"] = sum(1 for s in statuses if s in (403, 409))
        fig["other_errors"] = sum(1 for s in statuses if s not in (200, 403, 409, 503, 500))
        acknowledged = {r[4] for r in results if r[2] == "post" and r[3] == 200}
        refused = {r[4] for r in results if r[2] == "post" and r[3] != 200}
        stored = {row[0] for row in server.sql("SELECT body FROM posts")}
        fig["posts_acknowledged"] = len(acknowledged)
        fig["posts_lost"] = len(acknowledged - stored)
        fig["posts_refused_but_stored"] = len(refused & stored)
        fig["audio_max_gap_ms"] = 1000 * ear.max_gap(l1 - 1, r2 + 1)
        fig["audio_fps"] = ear.rate(l1 - 1, r2 + 1)
        gone = kit.wait_until(lambda: leaver.id not in present(server, space), 10, 0.5)
        fig["leaver_reaped_after_lock"] = bool(gone)
        fig["leaver_left_page_in_lock_s"] = closed_page - l2
        fig["second_space_recording"] = bool(
            server.sql("SELECT COUNT(*) FROM recordings WHERE space_id = ?", (second,))[0][0]
        )
        fig["integrity"] = server.sql("PRAGMA integrity_check")[0][0]
        if "mouth" in other:
            parts.append(other["mouth"])
        fig.check(fig["lock1_failed"] == 0, "requests failed during the 2 s lock")
        fig.check(fig["lock1_waited_max_s"] >= 1.0, "nothing waited for the 2 s lock")
        fig.check(fig["http_500"] == 0 and fig["other_errors"] == 0, "500s or unclear errors")
        fig.check(fig["posts_lost"] == 0, "acknowledged posts lost")
        fig.check(fig["posts_refused_but_stored"] == 0, "a refused post was stored")
        fig.check(fig["audio_max_gap_ms"] < 200, "the audio stalled while the database was locked")
        fig.check(bool(gone), "the presence reaper lost someone during the long lock")
        fig.check(
            fig["second_space_recording"], "a Space started during the lock has no recording row"
        )
        fig.check(fig["integrity"] == "ok", "database integrity")
    finally:
        stop.set()
        for part in parts:
            part.stop()
        server.stop()


# Running -----------------------------------------------------------------------------------------

RUNNERS = {
    "L1": drill_l1,
    "L2": drill_l2,
    "L3": drill_l3,
    "L4": drill_l4,
    "F1": drill_f1,
    "F2": drill_f2,
    "F3": drill_f3,
    "F4": drill_f4,
    "F5": drill_f5,
    "F6": drill_f6,
}


def time_limit(name: str, args) -> int:
    """Seconds a drill may take, all set-up included."""
    if name == "L1":
        return int((args.minutes or (1 if args.quick else 10)) * 60 + 600)
    return 300 if args.quick else 600


def run(name: str, args, root: Path) -> tuple[bool, str]:
    fig = Figures()
    started = time.monotonic()

    def expired(_signum, _frame):
        raise DrillTimeout(f"over its {time_limit(name, args)} s limit")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(time_limit(name, args))
    error = None
    try:
        tmp = root / name.lower()
        tmp.mkdir()
        RUNNERS[name](args, tmp, fig)
    except Exception as exc:  # noqa: BLE001 (a drill that breaks is a failed drill)
        error = f"{type(exc).__name__}: {exc}"[:300]
        if args.verbose:
            traceback.print_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    ok = error is None and not fig.failures
    fig["seconds"] = time.monotonic() - started
    words = [f"{k}={fmt(v)}" for k, v in fig.items()]
    if error:
        words.append(f"error={fmt(error)}")
    if fig.failures:
        words.append(f"why={fmt('; '.join(fig.failures))}")
    line = f"drill {name} {'ok' if ok else 'FAIL'} " + " ".join(words)
    print(line, flush=True)
    return ok, line


def other_benchmark() -> list[str]:
    found = subprocess.run(["pgrep", "-f", "audio_fanout"], capture_output=True, text=True)
    return [p for p in found.stdout.split() if int(p) != os.getpid()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("drills", nargs="*", help=f"some of {' '.join(DRILLS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="short versions")
    parser.add_argument(
        "--tiny", action="store_true", help="the smallest versions, as `make test` runs L1-L3"
    )
    parser.add_argument(
        "--listeners", type=int, help=f"L1's listeners (default {L1_LISTENERS}; quick 200)"
    )
    parser.add_argument("--minutes", type=float, help="L1's length (default 10; quick 1)")
    parser.add_argument("--keep", help="keep every server's data and log in this directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks of failures")
    args = parser.parse_args()
    args.quick = args.quick or args.tiny
    names = [d.upper() for d in args.drills] or DRILLS
    unknown = [d for d in names if d not in RUNNERS]
    if unknown:
        parser.error(f"unknown drills {unknown}; choose from {DRILLS}")
    if other_benchmark():
        print("# note: bench/audio_fanout.py is running too; timings share the 2 cores", flush=True)
    started = time.monotonic()
    results = []
    with contextlib.ExitStack() as stack:
        if args.keep:
            root = Path(args.keep)
            root.mkdir(parents=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="drills-")))
        for name in names:
            results.append((name, run(name, args, root)[0]))
    passed = sum(ok for _, ok in results)
    listing = ", ".join(f"{n} {'ok' if ok else 'FAIL'}" for n, ok in results)
    print(
        f"drills ok={passed} failed={len(results) - passed} ({listing})"
        f" quick={fmt(args.quick)} seconds={time.monotonic() - started:.0f}",
        flush=True,
    )
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
