"""F2: clients that stop reading (tiny receive buffers) beside healthy listeners: the others keep
50 frames/s and their pages' pushes, the stalled ones are dropped and leave the room."""

import contextlib
import time
from pathlib import Path

from fanout.room import speaking_space

from testkit import procfs
from testkit.http_user import HttpUser
from testkit.listen import Ear
from testkit.server import LiveServer
from testkit.waiting import wait_until
from testkit.websocket import upgrade

from .kit import Background, Figures, ListenerPool, connect_crowd, present

STALLED = 3  # audio clients that stop reading, beside one page that does


def run(args, tmp: Path, fig: Figures) -> None:
    n = 50 if args.quick else 200
    window = 8.0 if args.quick else 20.0
    server = LiveServer(tmp / "f2")
    names = ["f2host", "f2voice1", "f2voice2", "f2watcher", "f2stuckpage"]
    names += [f"f2stuck{i}" for i in range(STALLED)] + [f"f2listener{i:03d}" for i in range(n)]
    host, voice1, voice2, watcher_p, stuck_page, *rest = server.people(names)
    stage, stuck, crowd = [voice1, voice2], rest[:STALLED], rest[STALLED:]
    stalled: list[tuple[str, object]] = []
    watcher = None
    try:
        server.start()
        with (
            ListenerPool(2) as pool,
            speaking_space(server.port, host, stage, "F2 slow readers") as (space, voices),
        ):
            room = f"/spaces/{space}"
            connect_crowd(pool, server.port, room, crowd)
            watcher_p.join(space)
            watcher = watcher_p.listen(room + "/live")
            time.sleep(3)
            before = pool.measure(voices, server, window / 2)
            fps_before = min(pool.rates(), default=0.0)
            for person in [*stuck, stuck_page]:  # joined now: a socket must follow within grace
                person.join(space)
            stalled += [("audio", never_read(server, room + "/audio", p)) for p in stuck]
            stalled.append(("live", never_read(server, room + "/live", stuck_page)))
            watch = StallWatch(server.port, [(kind, s.getsockname()[1]) for kind, s in stalled])
            with watch, Edits(host, room, watcher) as edits:
                after = pool.measure(voices, server, window)
                fps_after = min(pool.rates(), default=0.0)
                wait_until(lambda: watch.all_dropped(), 30, 0.2)
            fig["healthy"] = n
            healthy_figures(fig, (before, fps_before), (after, fps_after))
            drop_figures(fig, watch, edits)
            # Dropped and not back: after the grace period the stalled listeners have left.
            gone = wait_until(
                lambda: not set(present(server, space)) & {p.id for p in stuck}, 20, 0.5
            )
            fig["stalled_left_room"] = bool(gone)
            fig.check(bool(gone), "dropped listeners still present after the grace period")
    finally:
        for _, s in stalled:
            with contextlib.suppress(OSError):
                s.close()
        if watcher:
            watcher.stop()
        server.stop()


def never_read(server: LiveServer, path: str, person: HttpUser):
    """A websocket never read after its handshake: a tiny receive buffer and segment size keep
    the kernel's share small, so the server meets a full socket within a second."""
    return upgrade(
        server.port, path, person.cookie_header(), timeout=10, receive_buffer=1024, segment=536
    )


def healthy_figures(fig: Figures, before: tuple, during: tuple) -> None:
    """The healthy listeners before and while the stalled clients were there: (step, the
    slowest one's frames per second)."""
    fig["stalled"] = f"{STALLED}audio+1live"
    fig["fps_min_before"] = before[1]
    fig["fps_min_during"] = during[1]
    fig["lost_before"] = before[0].lost
    fig["lost_during"] = during[0].lost
    fig["p99_ms_before"] = before[0].p99_ms
    fig["p99_ms_during"] = during[0].p99_ms
    fig["healthy_dropped"] = before[0].dropped + during[0].dropped
    fig.check(during[1] >= 49.0, f"a healthy listener fell to {during[1]:.1f} frames/s")
    fig.check(during[0].lost == 0 and during[0].dropped == 0, "healthy listeners lost frames")


def drop_figures(fig: Figures, watch: "StallWatch", edits: "Edits") -> None:
    audio_drops = [watch.dropped_at.get(p) for kind, p in watch.ports if kind == "audio"]
    live_drops = [watch.dropped_at.get(p) for kind, p in watch.ports if kind == "live"]
    fig["stalled_audio_dropped_s"] = max(audio_drops) if None not in audio_drops else None
    fig["stalled_live_dropped_s"] = live_drops[0]
    fig["push_max_ms"] = 1000 * max(edits.delays, default=float("nan"))
    fig.check(None not in audio_drops and None not in live_drops, "a stalled client stayed")
    fig.check(fig["push_max_ms"] < 1000, "pushes to a healthy page were delayed")


class StallWatch(Background):
    """When the kernel says each stalled socket stopped being ESTABLISHED (seconds after the
    watch began): the server dropped it."""

    def __init__(self, server_port: int, ports: list[tuple[str, int]]) -> None:
        super().__init__()
        self.server_port, self.ports = server_port, ports
        self.opened = time.monotonic()
        self.dropped_at: dict[int, float] = {}

    def all_dropped(self) -> bool:
        return len(self.dropped_at) == len(self.ports)

    def loop(self) -> None:
        while not self.stop.is_set() and not self.all_dropped():
            for _, port in self.ports:
                state = procfs.tcp_state(self.server_port, port)
                if port not in self.dropped_at and state != "ESTABLISHED":
                    self.dropped_at[port] = time.monotonic() - self.opened
            time.sleep(0.1)


class Edits(Background):
    """The host edits the Space's title (the longest description: ~2 KB a push) five times a
    second; how long each took to reach a healthy page."""

    def __init__(self, host: HttpUser, room: str, watcher: Ear) -> None:
        super().__init__()
        self.host, self.room, self.watcher = host, room, watcher
        self.delays: list[float] = []

    def loop(self) -> None:
        description = "\N{STUDIO MICROPHONE}" * 280
        for i in range(60):
            if self.stop.wait(0.2):
                return
            title = f"Round {i}"
            t = time.monotonic()
            self.host.post(self.room + "/edit", {"title": title, "description": description})
            at = self.watcher.wait_text(lambda x, title=title: f">{title}<" in x, t, 3.0)
            self.delays.append((at - t) if at else float("inf"))
