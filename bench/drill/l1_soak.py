"""L1: 11 speakers (real speech, real-time pace) and N listeners (the fan-out benchmark's largest
passing N) for 10 minutes: frames lost to healthy listeners, server RSS at minute 1 and at the
end (within 10 %), latency p50/p99."""

import time
from pathlib import Path

from fanout.room import SPEAKERS, speaking_space

from testkit import procfs
from testkit.server import LiveServer

from .kit import Background, Figures, ListenerPool, connect_crowd

# The largest listener count bench/audio_fanout.py passed on this machine (p99 <= 100 ms, no frame
# lost; 1000 lost frames). --listeners 1000 shows what happens beyond it.
LISTENERS = 750


def run(args, tmp: Path, fig: Figures) -> None:
    n = args.listeners or (60 if args.tiny else 200 if args.quick else LISTENERS)
    seconds = (args.minutes or (0.15 if args.tiny else 1 if args.quick else 10)) * 60
    server = LiveServer(tmp / "l1")
    speakers = [f"l1speaker{i:02d}" for i in range(SPEAKERS)]
    host, *others = server.people(speakers + [f"l1listener{i:05d}" for i in range(n)])
    stage, crowd = others[: SPEAKERS - 1], others[SPEAKERS - 1 :]
    try:
        server.start()
        with (
            ListenerPool(max(2, -(-n // 300))) as pool,
            speaking_space(server.port, host, stage, "L1 soak") as (space, voices),
        ):
            t = time.monotonic()
            replies = connect_crowd(pool, server.port, f"/spaces/{space}", crowd)
            fig["listeners"] = sum(r[1] for r in replies)
            fig["speakers"] = SPEAKERS
            fig["ramp_s"] = time.monotonic() - t
            fig.check(fig["listeners"] == n, f"only {fig['listeners']} of {n} listeners connected")
            time.sleep(2 if args.tiny else 5)  # the ramp's last joins settle
            with MemorySamples(server.pid, seconds / 10) as rss:
                step = pool.measure(voices, server, seconds)
            fig["minutes"] = seconds / 60
            figures(fig, step, min(pool.rates(), default=0.0), rss.samples)
    finally:
        server.stop()


def figures(fig: Figures, step, fps_min: float, rss: list[float]) -> None:
    fig["lost"] = step.lost
    fig["lossy_listeners"] = step.lossy
    fig["missing_bursts"] = step.missing
    fig["dropped"] = step.dropped
    fig["p50_ms"] = step.p50_ms
    fig["p99_ms"] = step.p99_ms
    fig["max_ms"] = step.max_ms
    fig["fps_min"] = fps_min
    fig["server_cpu_pct"] = step.server_cpu
    first = rss[0] if rss else float("nan")
    last = rss[-1] if rss else float("nan")
    fig["rss_first_mb"] = first
    fig["rss_last_mb"] = last
    fig["rss_change_pct"] = 100 * (last - first) / first if first else float("nan")
    fig["rss_series_mb"] = "/".join(f"{m:.0f}" for m in rss)
    fig.check(step.samples > 0, "no latency samples")
    fig.check(step.lost == 0 and step.missing == 0, f"{step.lost} frames lost")
    fig.check(step.dropped == 0, f"{step.dropped} listeners dropped")
    fig.check(abs(fig["rss_change_pct"]) <= 10, "RSS moved more than 10 %")


class MemorySamples(Background):
    """The server's RSS ten times, every `every` seconds, while the `with` block runs."""

    def __init__(self, pid: int, every: float) -> None:
        super().__init__()
        self.pid, self.every = pid, every
        self.samples: list[float] = []

    def loop(self) -> None:
        t0 = time.monotonic()
        for k in range(1, 11):
            if self.stop.wait(max(0.0, t0 + k * self.every - time.monotonic())):
                return
            self.samples.append(procfs.rss_mb(self.pid))
