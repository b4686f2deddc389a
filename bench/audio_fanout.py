"""Audio fan-out benchmark: how many listeners one Spaces server carries with 11 live speakers.

Starts the server as `make run` does (`python -m spaces.serve`, temporary DATA_DIR, rate limits
and captions off), opens a Space whose host makes 10 people speakers over HTTP, turns all 11
microphones on and streams real speech from ../shared/audio at real-time pace (20 ms frames of
640 bytes). Listeners join over HTTP and open the audio socket from worker processes (a few
hundred raw sockets per process on one epoll loop). The host's stream carries a marked burst every
0.5 s; listeners detect it in the mix, so latency is measured from the speaker's send to the
listener's receive. For N = 100, 250, 500, ... each step adds listeners, lets them settle, and
measures a window: latency p50/p99, frames lost per listener (frames received between bursts
against the frames the speaker sent between them), server CPU and RSS, downstream kbps. The
largest N with p99 <= 100 ms, no frame lost and no listener dropped passes.

The same clients then run against bench/baseline_relay.py (asyncio `websockets`, the same mixer,
`websockets.broadcast`) and the ratio of the two is printed. Last line:

    audio_fanout speakers=11 listeners=N p50_ms=X p99_ms=Y lost=Z kbps=K
        baseline_listeners=M ratio=R   (on one line)

docs/bench-audio.md has the method and figures.
"""

import argparse
import contextlib
import multiprocessing
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _clients as clients  # noqa: E402

SPEAKERS = 11
P99_LIMIT_MS = 100.0
LATENCY_SLACK = 5  # frames: latency may differ this much (100 ms) between two bursts
LADDER = [100, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000]
QUICK_LADDER = [250, 500, 1000, 1500, 2000]


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

    @property
    def passed(self) -> bool:
        return (
            self.connected == self.listeners
            and self.samples > 0
            and self.dropped == 0
            and self.lost == 0
            and self.missing == 0
            and self.p99_ms <= P99_LIMIT_MS
        )

    def row(self) -> str:
        target = self.target + (" (again)" if self.retry else "")
        return (
            f"| {target} | {self.listeners} | {self.p50_ms:.1f} | {self.p99_ms:.1f} |"
            f" {self.max_ms:.1f} | {self.lost} ({self.lossy} listeners) | {self.dropped} |"
            f" {self.kbps:.1f} | {self.server_cpu:.0f} % ({self.busiest_thread_cpu:.0f} %) |"
            f" {self.rss_mb:.0f} MB |"
            f" {self.clients_cpu:.0f} % | {self.other_cpu:.0f} % | {self.ingress} |"
            f" {'pass' if self.passed else 'FAIL'} |"
        )


HEADER = (
    "| server | listeners | p50 ms | p99 ms | max ms | frames lost | dropped | kbps |"
    " server CPU (busiest thread) | server RSS | clients CPU | other CPU | ingress | result |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


class Pool:
    """The listener worker processes."""

    def __init__(self, count: int, probe_every: int, lazy_every: float, nice: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes = []
        self.procs = []
        for i in range(count):
            ours, theirs = ctx.Pipe()
            probe = i % probe_every == 0
            proc = ctx.Process(
                target=clients.listener_process,
                args=(theirs, probe, lazy_every, nice),
                daemon=True,
            )
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)
        self.next = 0

    def connect(self, port: int, path: str, cookies: list[str]) -> None:
        shares = [[] for _ in self.pipes]
        for cookie in cookies:
            shares[self.next].append(cookie)
            self.next = (self.next + 1) % len(self.pipes)
        for pipe, share in zip(self.pipes, shares, strict=True):
            if share:
                pipe.send(("connect", port, path, share))

    def ask(self, command: tuple) -> list:
        for pipe in self.pipes:
            pipe.send(command)
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        self.ask(("close",))
        self.next = 0

    def exit(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("exit",))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


class Speakers:
    """The speaker process: 11 sockets at real-time pace, burst send times on request."""

    def __init__(self, port: int, targets: list[tuple[str, str]]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(
            target=clients.speaker_process, args=(theirs, port, targets), daemon=True
        )
        self.proc.start()
        reply = self.pipe.recv()
        if reply[0] != "ready":
            raise RuntimeError(reply)

    def sends(self):
        self.pipe.send("sends")
        reply = self.pipe.recv()
        if not isinstance(reply[0], list):
            raise RuntimeError(f"speaker failed: {reply}")
        return reply

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.pipe.send("stop")
            self.pipe.recv()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / clients.CLOCK_TICK


def others_busy(pids: list[int], seconds: float = 1.0) -> float:
    """Percent of one core the rest of the machine (not these processes) used just now."""
    ours0, machine0 = sum(clients.cpu_seconds(p) for p in pids), machine_busy_seconds()
    time.sleep(seconds)
    ours1, machine1 = sum(clients.cpu_seconds(p) for p in pids), machine_busy_seconds()
    return 100 * ((machine1 - machine0) - (ours1 - ours0)) / seconds


def wait_for_quiet(pids: list[int], limit: float, threshold: float = 25.0) -> float:
    """The machine is shared: waits (up to `limit` s) until other programs use < threshold %."""
    deadline = time.monotonic() + limit
    while True:
        busy = others_busy(pids)
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        print(f"    (other programs are using {busy:.0f} % of a core; waiting)", flush=True)


def measure(step: Step, pool: Pool, speakers: Speakers, pid: int, args) -> Step:
    client_pids = [p.pid for p in pool.procs] + [speakers.proc.pid]
    window = args.window
    if args.quiet_wait:
        wait_for_quiet([pid, *client_pids], args.quiet_wait)
    started = pool.ask(("start",))
    t0 = time.monotonic()
    threads0 = clients.thread_cpu_seconds(pid)
    server0, machine0 = clients.cpu_seconds(pid), machine_busy_seconds()
    clients0 = sum(clients.cpu_seconds(p) for p in client_pids)
    time.sleep(window)
    server1, machine1 = clients.cpu_seconds(pid), machine_busy_seconds()
    threads1 = clients.thread_cpu_seconds(pid)
    clients1 = sum(clients.cpu_seconds(p) for p in client_pids)
    t1 = time.monotonic()
    step.rss_mb = clients.rss_mb(pid)
    step.threads = clients.thread_count(pid)
    results = pool.ask(("stop",))
    sends, _late, _ = speakers.sends()
    step.window_s = t1 - t0
    step.server_cpu = 100 * (server1 - server0) / step.window_s
    busiest = max((t - threads0.get(tid, 0.0) for tid, t in threads1.items()), default=0.0)
    step.busiest_thread_cpu = 100 * busiest / step.window_s
    step.clients_cpu = 100 * (clients1 - clients0) / step.window_s
    busy = 100 * (machine1 - machine0) / step.window_s
    step.other_cpu = max(0.0, busy - step.server_cpu - step.clients_cpu)
    first = max(r[1] for r in started)
    last = min(r[2] for r in results)
    by_id: dict[int, list[tuple[float, int]]] = {}
    for seq, burst_id, t in sends:
        by_id.setdefault(burst_id, []).append((t, seq))
    expected = [seq for seq, _, t in sends if first <= t <= last - 0.5]
    if len(expected) < 2:
        step.errors.append("no bursts in the window")
        return step
    lo, hi = expected[0], expected[-1]
    latencies = []
    spans = []  # per listener: (first burst, last burst, frames between, time between)
    kbps = []
    for _, w0, w1, probe, figures in results:
        for alive, _frames, nbytes, bursts, error in figures:
            if not alive:
                step.dropped += 1
                if error and len(step.errors) < 5:
                    step.errors.append(error)
                continue
            kbps.append(nbytes * 8 / (w1 - w0) / 1000)
            seen: dict[int, tuple[int, float]] = {}
            for burst_id, arrival, count in bursts:
                candidates = [(t, seq) for t, seq in by_id.get(burst_id, ()) if t <= arrival]
                if not candidates:
                    continue
                t_sent, seq = max(candidates)
                if lo <= seq <= hi and seq not in seen:
                    seen[seq] = (count, arrival)
                    if probe:  # the others read lazily: their arrival times are coarse
                        latencies.append(arrival - t_sent)
            step.missing += (hi - lo + 1) - len(seen)
            if len(seen) < 2:
                spans.append(None)
                continue
            a, b = min(seen), max(seen)
            spans.append((a, b, seen[b][0] - seen[a][0], seen[b][1] - seen[a][1]))
    # Lost frames, two ways. Every listener is sent the same frames, so one that got fewer frames
    # between the same two bursts than another lost the difference (a dropped backlog). And a
    # gap in the 50 fps stream itself (a skipped tick) shows as more time between the two bursts
    # than frames received, beyond what latency jitter explains (LATENCY_SLACK frames).
    best: dict[tuple[int, int], int] = {}
    for span in spans:
        if span:
            best[span[:2]] = max(best.get(span[:2], 0), span[2])
    for span in spans:
        if span is None:
            lost = (hi - lo) * clients.BURST_EVERY
        else:
            a, b, got, elapsed = span
            gap = round(elapsed / clients.FRAME_SECONDS) - got - LATENCY_SLACK
            lost = max(best[(a, b)] - got, gap, 0)
        step.lost += lost
        step.lossy += lost > 0
    # The host's frames between the first and last burst against the frames the mix carried:
    # > 0 when the server's jitter buffer dropped some of the host's frames, < 0 when it inserted
    # silence (an underrun). Neither is a gap in what listeners receive.
    if (lo, hi) in best:
        step.ingress = (hi - lo) * clients.BURST_EVERY - best[(lo, hi)]
    if latencies:
        ms = np.array(latencies) * 1000
        step.p50_ms = float(np.percentile(ms, 50))
        step.p99_ms = float(np.percentile(ms, 99))
        step.max_ms = float(ms.max())
        step.samples = len(ms)
    step.kbps = float(np.mean(kbps)) if kbps else float("nan")
    return step


def search(target: str, ladder: list[int], pool: Pool, speakers: Speakers, pid: int, add, args):
    """Adds listeners step by step; stops after a step that fails (its retry too)."""
    steps = []
    have = 0
    for n in ladder:
        t = time.monotonic()
        add(have, n)
        replies = pool.ask(("sync",))
        have = n
        ramp = time.monotonic() - t
        time.sleep(args.settle)
        for attempt in range(1 + args.retry):
            step = Step(target, n, retry=attempt)
            step.connected = sum(r[1] for r in replies)
            for r in replies:
                step.errors.extend(r[2])
            measure(step, pool, speakers, pid, args)
            print(step.row() + f" ramp {ramp:.0f} s", flush=True)
            if step.errors:
                print("    errors:", "; ".join(sorted(set(map(str, step.errors)))[:5]), flush=True)
            steps.append(step)
            if step.passed or step.connected < n or step.dropped:
                break
        if not step.passed:
            break
    return steps


def best(steps: list[Step]) -> Step | None:
    passed = [s for s in steps if s.passed]
    return passed[-1] if passed else None


# The product -------------------------------------------------------------------------------------


def run_spaces(args, ladder: list[int], pool: Pool, tmp: Path) -> list[Step]:
    data = tmp / "spaces"
    data.mkdir()
    secret = secrets.token_hex(32)
    (data / "secret_key").write_text(secret)
    (data / "secret_key").chmod(0o600)
    names = [f"listener{i:05d}" for i in range(max(ladder))]
    t = time.monotonic()
    ids = [] if args.http_signups else clients.seed_accounts(data / "spaces.db", names)
    print(f"listener accounts: {len(ids)} in {time.monotonic() - t:.1f} s", flush=True)
    port = clients.free_port()
    server = clients.start_spaces(data, port)
    speakers = None
    try:
        with ThreadPoolExecutor(8) as ex:
            people = list(
                ex.map(lambda i: clients.Http(port).sign_up(f"speaker{i:02d}"), range(SPEAKERS))
            )
        host = people[0]
        host.page("/spaces/new")
        _, _, location = host.post(
            "/spaces/new",
            {"title": "Fan-out bench", "description": "", "speaker_policy": "everyone"},
            htmx=False,
            expect=(302,),
        )
        space = int(location.rstrip("/").rsplit("/", 1)[1])
        room = f"/spaces/{space}"
        for i, person in enumerate(people[1:], start=1):
            person.page(room)
            person.post(room + "/join")
            uid = person.user_id(f"speaker{i:02d}")
            host.post(f"{room}/people/{uid}/make-speaker")
        for person in people:
            person.page(room)
            person.post(room + "/mic", {"on": "1"})
        speakers = Speakers(port, [(room + "/audio", p.cookie) for p in people])
        print(f"Space {space}: {SPEAKERS} speakers streaming", flush=True)

        mint = clients.cookie_minter(secret)

        def join(i: int) -> str:
            if args.http_signups:
                person = clients.Http(port).sign_up(names[i])
            else:  # signed in already, on the room page: the CSRF token is the page's
                cookie, token = mint(ids[i])
                person = clients.Http(port, cookie)
                person.token = token
            person.post(room + "/join")
            return person.cookie

        def add(have: int, n: int) -> None:
            with ThreadPoolExecutor(args.http_threads) as ex:
                for start in range(have, n, 100):
                    batch = list(ex.map(join, range(start, min(n, start + 100))))
                    pool.connect(port, room + "/audio", batch)

        pid = clients.serving_pid(server.pid)  # gunicorn's worker, up since the sign-ups
        if args.profile:
            profile_when(args, pid, tmp)
        return search("spaces", ladder, pool, speakers, pid, add, args)
    finally:
        if speakers:
            speakers.stop()
        pool.close()
        clients.stop_process(server)


def profile_when(args, pid: int, tmp: Path) -> None:
    """py-spy records the server for --profile seconds, starting --profile-at s from now."""
    out = Path(args.profile_out or tmp / "profile.txt")
    cmd = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(args.profile),
        "--format",
        "raw",
        "--output",
        str(out),
        "--threads",
        "--gil" if args.profile_gil else "--idle",
    ]
    sleeper = f"import time, subprocess; time.sleep({args.profile_at}); subprocess.run({cmd!r})"
    subprocess.Popen([sys.executable, "-c", sleeper], stdout=subprocess.DEVNULL)
    print(f"py-spy will record {args.profile} s at +{args.profile_at} s into {out}", flush=True)


# The baseline ------------------------------------------------------------------------------------


def run_baseline(args, ladder: list[int], pool: Pool, tmp: Path) -> list[Step]:
    port = clients.free_port()
    log = tmp / "baseline.log"
    relay = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("baseline_relay.py")), "--port", str(port)],
        stdout=open(log, "ab"),  # noqa: SIM115 (the child keeps it)
        stderr=subprocess.STDOUT,
    )
    speakers = None
    try:
        clients.wait_for_port(port, relay, log)
        speakers = Speakers(port, [(f"/audio?speaker={i}", "") for i in range(SPEAKERS)])

        def add(have: int, n: int) -> None:
            pool.connect(port, "/audio", [""] * (n - have))

        return search("baseline", ladder, pool, speakers, relay.pid, add, args)
    finally:
        if speakers:
            speakers.stop()
        pool.close()
        clients.stop_process(relay)


def main() -> None:
    # A kill (timeout, Ctrl-C) still stops the server, the relay and the client processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter steps")
    parser.add_argument("--max-listeners", type=int, default=None)
    parser.add_argument("--ladder", help="comma-separated listener counts")
    parser.add_argument("--window", type=float, default=None, help="seconds measured per step")
    parser.add_argument("--settle", type=float, default=None, help="seconds before measuring")
    parser.add_argument(
        "--retry", type=int, default=1, help="windows re-measured when a step fails (noise)"
    )
    parser.add_argument("--per-worker", type=int, default=300, help="sockets per client process")
    parser.add_argument("--http-threads", type=int, default=8)
    parser.add_argument(
        "--probe-every", type=int, default=4, help="1 in this many client processes probes latency"
    )
    parser.add_argument(
        "--lazy-ms", type=float, default=40.0, help="how often other client processes read"
    )
    parser.add_argument(
        "--client-nice", type=int, default=0, help="niceness of the listener processes"
    )
    parser.add_argument("--http-signups", action="store_true", help="sign listeners up over HTTP")
    parser.add_argument("--only", choices=["spaces", "baseline"])
    parser.add_argument("--keep", help="keep the server's data and logs in this directory")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="wait up to this long before a window for other programs to go quiet (0: never)",
    )
    parser.add_argument("--profile", type=float, default=0, help="py-spy record seconds")
    parser.add_argument("--profile-at", type=float, default=60)
    parser.add_argument("--profile-out")
    parser.add_argument("--profile-gil", action="store_true")
    args = parser.parse_args()
    ladder = [int(x) for x in args.ladder.split(",")] if args.ladder else None
    ladder = ladder or (QUICK_LADDER if args.quick else LADDER)
    if args.max_listeners:
        ladder = [n for n in ladder if n <= args.max_listeners] or [args.max_listeners]
    if args.window is None:
        args.window = 8.0 if args.quick else 20.0
    if args.settle is None:
        args.settle = 3.0 if args.quick else 5.0
    workers = max(2, -(-max(ladder) // args.per_worker))
    print(f"ladder {ladder}, window {args.window:.0f} s, {workers} client processes", flush=True)
    print(HEADER, flush=True)
    pool = Pool(workers, args.probe_every, args.lazy_ms / 1000, args.client_nice)
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            if args.keep:
                tmp = args.keep
                Path(tmp).mkdir(parents=True)
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-audio-"))
            ours = theirs = []
            if args.only != "baseline":
                ours = run_spaces(args, ladder, pool, Path(tmp))
            if args.only != "spaces":
                theirs = run_baseline(args, ladder, pool, Path(tmp))
    finally:
        pool.exit()
    print(f"\n{HEADER}")
    for step in ours + theirs:
        print(step.row())
    print(f"\nwall time {time.monotonic() - started:.0f} s")
    mine, base = best(ours), best(theirs)
    n = mine.listeners if mine else 0
    m = base.listeners if base else 0
    shown = mine or (ours[0] if ours else Step("spaces", 0))
    ratio = n / m if m else float("nan")
    print(
        f"audio_fanout speakers={SPEAKERS} listeners={n} p50_ms={shown.p50_ms:.1f}"
        f" p99_ms={shown.p99_ms:.1f} lost={shown.lost} kbps={shown.kbps:.0f}"
        f" baseline_listeners={m} ratio={ratio:.2f}"
    )


if __name__ == "__main__":
    main()
