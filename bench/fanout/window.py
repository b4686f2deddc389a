"""One measuring window of the fan-out benchmark: latency, frames lost, listeners dropped, CPU
and memory, as a `Step` (one row of the results table).

v1 (PCM) finds the host's marked bursts in the mix; v2 (Opus) reads every message's header:
latency is its arrival less the capture time of its oldest voice, a loss a gap in the sequence
numbers. The limits differ: v2 listeners get three frames a message and may be 250 ms behind
(the issue's goal), while speakers' mix-minus must stay within 100 ms."""

import time
from dataclasses import dataclass, field

import numpy as np

from testkit import procfs
from testkit.audio import FRAME_SECONDS

from .bursts import BURST_EVERY
from .listeners import Pool
from .speakers import Speakers

P99_LIMIT_MS = 100.0  # v1 listeners, and v2 speakers (their mix-minus)
V2_LISTENER_P99_LIMIT_MS = 250.0
LATENCY_SLACK = 5  # frames: latency may differ this much (100 ms) between two bursts

HEADER = (
    "| server | listeners | p50 ms | p99 ms | max ms | speaker p99 ms | frames lost | dropped |"
    " kbps | server CPU (busiest thread) | server RSS | clients CPU | other CPU | ingress |"
    " result |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass
class Step:
    target: str
    listeners: int
    retry: int = 0  # 0 for the first window at this N, then 1, 2... when re-measured
    connected: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    samples: int = 0
    lost: int = 0  # frames lost, summed over listeners
    lossy: int = 0  # listeners that lost any frame
    missing: int = 0  # bursts a listener never saw
    dropped: int = 0  # listeners whose socket closed
    kbps: float = float("nan")
    server_cpu: float = float("nan")  # percent of one core
    clients_cpu: float = float("nan")
    other_cpu: float = float("nan")  # the rest of the machine (other programs)
    ingress: int = 0  # host frames the server's jitter buffer dropped (+) or padded (-)
    rss_mb: float = float("nan")
    busiest_thread_cpu: float = float("nan")  # the server's busiest thread (its tick)
    threads: int = 0
    window_s: float = 0.0
    errors: list = field(default_factory=list)
    v2: bool = False
    speaker_p99_ms: float = float("nan")  # v2: the speakers' mix-minus
    cpu_parts: list = field(default_factory=list)  # percent of a core, per server process

    @property
    def passed(self) -> bool:
        listener_limit = V2_LISTENER_P99_LIMIT_MS if self.v2 else P99_LIMIT_MS
        return (
            self.connected == self.listeners
            and self.samples > 0
            and self.dropped == 0
            and self.lost == 0
            and self.missing == 0
            and self.p99_ms <= listener_limit
            and (not self.v2 or self.speaker_p99_ms <= P99_LIMIT_MS)
        )

    def row(self) -> str:
        target = self.target + (" (again)" if self.retry else "")
        return (
            f"| {target} | {self.listeners} | {self.p50_ms:.1f} | {self.p99_ms:.1f} |"
            f" {self.max_ms:.1f} | {self.speaker_p99_ms:.1f} |"
            f" {self.lost} ({self.lossy} listeners) | {self.dropped} |"
            f" {self.kbps:.1f} | {self.server_cpu:.0f} % ({self.busiest_thread_cpu:.0f} %) |"
            f" {self.rss_mb:.0f} MB |"
            f" {self.clients_cpu:.0f} % | {self.other_cpu:.0f} % | {self.ingress} |"
            f" {'pass' if self.passed else 'FAIL'} |"
        )


def others_busy(pids: list[int], seconds: float = 1.0) -> float:
    """Percent of one core the rest of the machine (not these processes) used just now."""
    ours0, machine0 = sum(map(procfs.cpu_seconds, pids)), procfs.machine_busy_seconds()
    time.sleep(seconds)
    ours1, machine1 = sum(map(procfs.cpu_seconds, pids)), procfs.machine_busy_seconds()
    return 100 * ((machine1 - machine0) - (ours1 - ours0)) / seconds


def wait_for_quiet(pids: list[int], limit: float, threshold: float = 25.0) -> float:
    """The machine is shared: waits (up to `limit` s) until other programs use < threshold %."""
    deadline = time.monotonic() + limit
    while True:
        busy = others_busy(pids)
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        print(f"    (other programs are using {busy:.0f} % of a core; waiting)", flush=True)


def measure(
    step: Step,
    pool: Pool,
    speakers: Speakers,
    pids: list[int],
    window: float,
    quiet_wait: float = 0,
) -> Step:
    """Measures `window` seconds of the server with the pool's listeners into `step`. `pids`:
    the server's processes, the one serving listeners first (its RSS, threads and busiest thread
    are shown; the CPU is all of theirs: with edges, the edge, the core and Redis)."""
    pid = pids[0]
    client_pids = [p.pid for p in pool.procs] + [speakers.proc.pid]
    if quiet_wait:
        wait_for_quiet([*pids, *client_pids], quiet_wait)
    started = pool.ask(("start",))
    cpu = CpuWindow(pids, client_pids)
    time.sleep(window)
    cpu.end(step)
    step.rss_mb = procfs.rss_mb(pid)
    step.threads = procfs.thread_count(pid)
    results = pool.ask(("stop",))
    sends, _late, _, speaker_ages = speakers.sends()
    first = max(r[1] for r in started)
    last = min(r[2] for r in results)
    if step.v2:
        score_v2(step, results, [ms for at, ms in speaker_ages if first <= at <= last])
    else:
        score(step, results, sends, [seq for seq, _, t in sends if first <= t <= last - 0.5])
    return step


def score_v2(step: Step, results: list, speaker_ages: list[int]) -> None:
    """Latency and losses from the v2 headers every listener read. A loss is a gap in the
    sequence numbers, or fewer frames than the window's 50 a second (beyond latency jitter and
    a message in flight): a server that skips ticks after a stall numbers on without a gap."""
    ages, kbps = [], []
    for _, w0, w1, _probe, figures in results:
        for alive, frames, nbytes, _bursts, error, lost, listener_ages in figures:
            if not alive:
                step.dropped += 1
                if error and len(step.errors) < 5:
                    step.errors.append(error)
                continue
            kbps.append(nbytes * 8 / (w1 - w0) / 1000)
            short = round((w1 - w0) / FRAME_SECONDS) - frames - LATENCY_SLACK - 3
            lost = max(lost, short, 0)
            step.lost += lost
            step.lossy += lost > 0
            ages += [ms for _at, ms in listener_ages]
    if ages:
        step.p50_ms = float(np.percentile(ages, 50))
        step.p99_ms = float(np.percentile(ages, 99))
        step.max_ms = float(max(ages))
        step.samples = len(ages)
    if speaker_ages:
        step.speaker_p99_ms = float(np.percentile(speaker_ages, 99))
    step.kbps = float(np.mean(kbps)) if kbps else float("nan")


class CpuWindow:
    """CPU time of the server, its threads, the clients and the machine over a window."""

    def __init__(self, pids: list[int], client_pids: list[int]) -> None:
        self.pids, self.client_pids = pids, client_pids
        self.t0 = time.monotonic()
        self.threads0 = procfs.thread_cpu_seconds(pids[0])
        self.server0 = [procfs.cpu_seconds(p) for p in pids]
        self.machine0 = procfs.machine_busy_seconds()
        self.clients0 = sum(map(procfs.cpu_seconds, client_pids))

    def end(self, step: Step) -> None:
        server1 = [procfs.cpu_seconds(p) for p in self.pids]
        machine1 = procfs.machine_busy_seconds()
        threads1 = procfs.thread_cpu_seconds(self.pids[0])
        clients1 = sum(map(procfs.cpu_seconds, self.client_pids))
        step.window_s = seconds = time.monotonic() - self.t0
        spent = zip(self.server0, server1, strict=True)
        step.cpu_parts = [100 * (b - a) / seconds for a, b in spent]
        step.server_cpu = sum(step.cpu_parts)
        busiest = max((t - self.threads0.get(tid, 0.0) for tid, t in threads1.items()), default=0)
        step.busiest_thread_cpu = 100 * busiest / seconds
        step.clients_cpu = 100 * (clients1 - self.clients0) / seconds
        busy = 100 * (machine1 - self.machine0) / seconds
        step.other_cpu = max(0.0, busy - step.server_cpu - step.clients_cpu)


def score(step: Step, results: list, sends: list, expected: list[int]) -> None:
    """Latency, losses and drops from every listener's figures, every burst sent (seq, id, send
    time) and the ones that had to arrive within the window."""
    if len(expected) < 2:
        step.errors.append("no bursts in the window")
        return
    lo, hi = expected[0], expected[-1]
    by_id: dict[int, list[tuple[float, int]]] = {}
    for seq, burst_id, t in sends:
        by_id.setdefault(burst_id, []).append((t, seq))
    latencies, spans, kbps = [], [], []
    for _, w0, w1, probe, figures in results:
        for alive, _frames, nbytes, bursts, error, *_v2 in figures:
            if not alive:
                step.dropped += 1
                if error and len(step.errors) < 5:
                    step.errors.append(error)
                continue
            kbps.append(nbytes * 8 / (w1 - w0) / 1000)
            seen = bursts_seen(bursts, by_id, lo, hi, latencies if probe else None)
            step.missing += (hi - lo + 1) - len(seen)
            spans.append(span_of(seen))
    count_losses(step, spans, lo, hi)
    if latencies:
        ms = np.array(latencies) * 1000
        step.p50_ms = float(np.percentile(ms, 50))
        step.p99_ms = float(np.percentile(ms, 99))
        step.max_ms = float(ms.max())
        step.samples = len(ms)
    step.kbps = float(np.mean(kbps)) if kbps else float("nan")


def bursts_seen(bursts, by_id: dict, lo: int, hi: int, latencies: list | None) -> dict:
    """seq -> (frames received before it, arrival) for each burst of the window a listener
    saw (by_id: burst id -> its sends as (time, seq)); a probe's latencies go into `latencies`
    (the others read lazily: their arrival times are coarse)."""
    seen: dict[int, tuple[int, float]] = {}
    for burst_id, arrival, count in bursts:
        candidates = [(t, seq) for t, seq in by_id.get(burst_id, ()) if t <= arrival]
        if not candidates:
            continue
        t_sent, seq = max(candidates)
        if lo <= seq <= hi and seq not in seen:
            seen[seq] = (count, arrival)
            if latencies is not None:
                latencies.append(arrival - t_sent)
    return seen


def span_of(seen: dict) -> tuple | None:
    """(first burst, last burst, frames between, time between), None under two bursts."""
    if len(seen) < 2:
        return None
    a, b = min(seen), max(seen)
    return a, b, seen[b][0] - seen[a][0], seen[b][1] - seen[a][1]


def count_losses(step: Step, spans: list, lo: int, hi: int) -> None:
    """Lost frames, two ways. Every listener is sent the same frames, so one that got fewer
    frames between the same two bursts than another lost the difference (a dropped backlog). And
    a gap in the 50 fps stream itself (a skipped tick) shows as more time between the two bursts
    than frames received, beyond what latency jitter explains (LATENCY_SLACK frames)."""
    best: dict[tuple[int, int], int] = {}
    for span in spans:
        if span:
            best[span[:2]] = max(best.get(span[:2], 0), span[2])
    for span in spans:
        if span is None:
            lost = (hi - lo) * BURST_EVERY
        else:
            a, b, got, elapsed = span
            gap = round(elapsed / FRAME_SECONDS) - got - LATENCY_SLACK
            lost = max(best[(a, b)] - got, gap, 0)
        step.lost += lost
        step.lossy += lost > 0
    # The host's frames between the first and last burst against the frames the mix carried:
    # > 0 when the server's jitter buffer dropped some of the host's frames, < 0 when it inserted
    # silence (an underrun). Neither is a gap in what listeners receive.
    if (lo, hi) in best:
        step.ingress = (hi - lo) * BURST_EVERY - best[(lo, hi)]
