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
`websockets.broadcast`) and the ratio of the two is printed.

With `--codec opus` (the default) everyone speaks protocol v2: speakers send Opus behind a header
stamped with the send time, listeners take latency from the headers (the oldest voice in each
message) and losses from sequence numbers, the speakers measure their mix-minus the same way, and
the baseline relay gets the same codec and packetization. A step passes with listeners' p99 <= 250
ms, speakers' p99 <= 100 ms, nothing lost or dropped. Before the ladder, a quality run
(fanout/quality.py) transcribes what a v1 and a v2 listener received. Last line:

    audio_fanout speakers=11 listeners=N p50_ms=X p99_ms=Y speaker_p99_ms=S lost=Z kbps=K
        codec=opus baseline_listeners=M ratio=R wer_pcm=A wer_opus=B   (on one line)

`--only edge` measures the product scaled out instead (issue 16): Redis, the core with the 11
speakers and one edge node serving every listener, all on this machine, each listener at the
edge address and grant the core gives. Its last line is

    audio_fanout_edge speakers=11 edges=1 listeners=N p50_ms=X p99_ms=Y speaker_p99_ms=S lost=Z
        kbps=K edge_cpu=E core_cpu=C redis_cpu=R   (percent of one core; on one line)

`--edges 2` runs two edges on the machine, the listeners split between them as the core sends
them.

docs/bench-audio.md has the method and figures.
"""

import argparse
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from fanout.listeners import Pool
from fanout.quality import word_error_rates
from fanout.room import SPEAKERS, speaking_space
from fanout.speakers import Speakers
from fanout.window import HEADER, Step, measure

from spaces.realtime.streams import LISTENER_FRAMES
from testkit.edge import LiveEdge, audio_addresses
from testkit.http_user import HttpUser
from testkit.redis_server import RedisServer
from testkit.server import LiveServer, child_pids, free_port, stop_process, wait_for_port

LADDER = [100, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 3500, 4000]
QUICK_LADDER = [250, 500, 1000, 1500, 2000]
TINY_LADDER = [20, 200]
V2_QUERY = "?v=2&codec=opus"


def search(target: str, ladder, pool: Pool, speakers: Speakers, pids: list[int], add, args):
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
            step = Step(target, n, retry=attempt, v2=args.codec == "opus")
            step.connected = sum(r[1] for r in replies)
            for r in replies:
                step.errors.extend(r[2])
            measure(step, pool, speakers, pids, args.window, args.quiet_wait)
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
    server = LiveServer(tmp / "spaces", AUDIO_LISTENER_FRAMES=str(args.listener_frames))
    names = [f"listener{i:05d}" for i in range(max(ladder))]
    t = time.monotonic()
    # Signed in already, on the room page: the CSRF token is the page's.
    crowd = [] if args.http_signups else server.people(names)
    print(f"listener accounts: {len(crowd)} in {time.monotonic() - t:.1f} s", flush=True)
    host, *stage = server.people([f"speaker{i:02d}" for i in range(SPEAKERS)])
    try:
        server.start()
        v2 = args.codec == "opus"
        with speaking_space(server.port, host, stage, "Fan-out bench", v2) as (space, speakers):
            print(f"Space {space}: {SPEAKERS} speakers streaming ({args.codec})", flush=True)
            room = f"/spaces/{space}"
            audio = room + "/audio" + (V2_QUERY if v2 else "")

            def join(i: int) -> str:
                person = HttpUser(server.url, names[i]) if args.http_signups else crowd[i]
                person.act(room + "/join")
                return person.cookie_header()

            # The server, then the processes it starts (the listener relay, on the first
            # listener): their CPU is the server's, not "other programs'".
            pids = [server.pid]

            def add(have: int, n: int) -> None:
                with ThreadPoolExecutor(args.http_threads) as ex:
                    for start in range(have, n, 100):
                        batch = list(ex.map(join, range(start, min(n, start + 100))))
                        pool.connect(server.port, audio, batch)
                pids.extend(p for p in child_pids(server.pid) if p not in pids)

            if args.profile:
                profile_when(args, server.pid, tmp)
            return search("spaces", ladder, pool, speakers, pids, add, args)
    finally:
        pool.close()
        server.stop()


def profile_when(args, pid: int, tmp: Path) -> None:
    """py-spy records the server for --profile seconds, starting --profile-at s from now."""
    out = Path(args.profile_out or tmp / "profile.txt")
    cmd = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(args.profile)),  # py-spy takes whole seconds
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


# One edge ----------------------------------------------------------------------------------------


def run_edge(args, ladder: list[int], pool: Pool, tmp: Path) -> list[Step]:
    """The product scaled out on this machine: Redis, the core with the 11 speakers, and
    `--edges` edge nodes (`python -m spaces.edge`) serving every listener at the address the core
    gives them (GET /spaces/<id>/audio-address: its first URL, each with its own grant). The
    edges' capacity, with the clients, the core and Redis on the same two cores; the CPU shows
    the first edge's threads and RSS, and the sum of every process."""
    redis_server = RedisServer(tmp / "redis").start()
    ports = [free_port() for _ in range(args.edges)]
    server = LiveServer(
        tmp / "core",
        REDIS_URL=redis_server.url,
        EDGE_URLS=",".join(f"ws://127.0.0.1:{port}" for port in ports),
        AUDIO_LISTENER_FRAMES=str(args.listener_frames),
    )
    key = server._secret_key()
    edges = [LiveEdge(tmp / f"edge{i}", redis_server.url, key, p) for i, p in enumerate(ports)]
    crowd = server.people([f"listener{i:05d}" for i in range(max(ladder))])
    host, *stage = server.people([f"speaker{i:02d}" for i in range(SPEAKERS)])
    try:
        server.start()
        for edge in edges:
            edge.start()
        v2 = args.codec == "opus"
        with speaking_space(server.port, host, stage, "Edge bench", v2) as (space, speakers):
            print(
                f"Space {space}: {SPEAKERS} speakers on the core, listeners on {len(edges)} edges"
            )

            def join(i: int) -> tuple[int, str, str]:
                """Joins on the core: the edge's port, path with this listener's grant, cookie."""
                crowd[i].act(f"/spaces/{space}/join")
                (url, *_) = audio_addresses(crowd[i], space)
                parts = urlsplit(url)
                query = parts.query + ("&" + V2_QUERY[1:] if v2 else "")
                return parts.port, f"{parts.path}?{query}", crowd[i].cookie_header()

            def add(have: int, n: int) -> None:
                with ThreadPoolExecutor(args.http_threads) as ex:
                    for start in range(have, n, 100):
                        seats = list(ex.map(join, range(start, min(n, start + 100))))
                        for port in ports:
                            mine = [(p, c) for to, p, c in seats if to == port]
                            if mine:
                                pool.connect(port, [p for p, _ in mine], [c for _, c in mine])

            pids = [edge.pid for edge in edges] + [server.pid, redis_server.proc.pid]
            return search("edge", ladder, pool, speakers, pids, add, args)
    finally:
        pool.close()
        for edge in edges:
            edge.stop()
        server.stop()
        redis_server.stop()


# The baseline ------------------------------------------------------------------------------------


def run_baseline(args, ladder: list[int], pool: Pool, tmp: Path) -> list[Step]:
    port = free_port()
    log = tmp / "baseline.log"
    relay = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("baseline_relay.py")),
            "--port",
            str(port),
            "--codec",
            args.codec,
            "--frames",
            str(args.listener_frames),
        ],
        stdout=open(log, "ab"),  # noqa: SIM115 (the child keeps it)
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, relay, log)
        targets = [(f"/audio?speaker={i}", "") for i in range(SPEAKERS)]
        with Speakers(port, targets, args.codec == "opus") as speakers:

            def add(have: int, n: int) -> None:
                pool.connect(port, "/audio", [""] * (n - have))

            return search("baseline", ladder, pool, speakers, [relay.pid], add, args)
    finally:
        pool.close()
        stop_process(relay)


def parse_args() -> tuple[argparse.Namespace, list[int]]:
    """The options, and the ladder of listener counts they give."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter steps")
    parser.add_argument(
        "--tiny", action="store_true", help="20 and 200 listeners, short windows (a shared machine)"
    )
    parser.add_argument("--codec", choices=["opus", "pcm"], default="opus")
    parser.add_argument(
        "--no-quality", action="store_true", help="skip the transcription of what listeners got"
    )
    parser.add_argument("--max-listeners", type=int, default=None)
    parser.add_argument("--edges", type=int, default=1, help="edge nodes, with --only edge")
    parser.add_argument(
        "--listener-frames",
        type=int,
        default=LISTENER_FRAMES,
        help="20 ms frames per v2 listener message (the server's AUDIO_LISTENER_FRAMES)",
    )
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
    parser.add_argument(
        "--only", choices=["spaces", "baseline", "edge"], help="edge: one edge node, not compared"
    )
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
    ladder = ladder or (TINY_LADDER if args.tiny else QUICK_LADDER if args.quick else LADDER)
    if args.max_listeners:
        ladder = [n for n in ladder if n <= args.max_listeners] or [args.max_listeners]
    if args.window is None:
        args.window = 8.0 if args.quick or args.tiny else 20.0
    if args.settle is None:
        args.settle = 3.0 if args.quick or args.tiny else 5.0
    return args, ladder


def main() -> None:
    # A kill (timeout, Ctrl-C) still stops the server, the relay and the client processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args, ladder = parse_args()
    workers = max(2, -(-max(ladder) // args.per_worker))
    print(f"ladder {ladder}, window {args.window:.0f} s, {workers} client processes", flush=True)
    print(HEADER, flush=True)
    pool = Pool(
        workers, args.probe_every, args.lazy_ms / 1000, args.client_nice, args.codec == "opus"
    )
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            if args.keep:
                tmp = args.keep
                Path(tmp).mkdir(parents=True)
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-audio-"))
            ours = theirs = []
            rates = {}
            if not args.no_quality and args.only != "edge":
                rates = word_error_rates(Path(tmp), quick=args.quick or args.tiny)
                print(f"quality: WER {rates}", flush=True)
            if args.only == "edge":
                edge_summary(run_edge(args, ladder, pool, Path(tmp)), started)
                return
            if args.only != "baseline":
                ours = run_spaces(args, ladder, pool, Path(tmp))
            if args.only != "spaces":
                theirs = run_baseline(args, ladder, pool, Path(tmp))
    finally:
        pool.exit()
    summary(ours, theirs, started, args.codec, rates)


def edge_summary(steps: list[Step], started: float) -> None:
    """The table, and a last line for one edge: its largest passing step and where the CPU went
    (percent of one core: the edge, the core with its speakers, Redis)."""
    print(f"\n{HEADER}")
    for step in steps:
        print(step.row())
    print(f"\nwall time {time.monotonic() - started:.0f} s")
    top = best(steps)
    shown = top or (steps[0] if steps else Step("edge", 0))
    *edge_cpu, core_cpu, redis_cpu = shown.cpu_parts or [float("nan")] * 3
    print(
        f"audio_fanout_edge speakers={SPEAKERS} edges={len(edge_cpu)}"
        f" listeners={top.listeners if top else 0}"
        f" p50_ms={shown.p50_ms:.1f} p99_ms={shown.p99_ms:.1f}"
        f" speaker_p99_ms={shown.speaker_p99_ms:.1f} lost={shown.lost} kbps={shown.kbps:.0f}"
        f" edge_cpu={'+'.join(f'{c:.0f}' for c in edge_cpu)} core_cpu={core_cpu:.0f}"
        f" redis_cpu={redis_cpu:.0f}"
    )


def summary(ours: list[Step], theirs: list[Step], started: float, codec: str, rates) -> None:
    """The table of every step, and the last line: the product's best against the baseline's."""
    print(f"\n{HEADER}")
    for step in ours + theirs:
        print(step.row())
    print(f"\nwall time {time.monotonic() - started:.0f} s")
    mine, base = best(ours), best(theirs)
    n = mine.listeners if mine else 0
    m = base.listeners if base else 0
    shown = mine or (ours[0] if ours else Step("spaces", 0))
    ratio = n / m if m else float("nan")
    wer = " ".join(
        f"wer_{c}={rates[c]:.3f}" if c in rates else f"wer_{c}=nan" for c in ("pcm", "opus")
    )
    print(
        f"audio_fanout speakers={SPEAKERS} listeners={n} p50_ms={shown.p50_ms:.1f}"
        f" p99_ms={shown.p99_ms:.1f} speaker_p99_ms={shown.speaker_p99_ms:.1f}"
        f" lost={shown.lost} kbps={shown.kbps:.0f} codec={codec}"
        f" baseline_listeners={m} ratio={ratio:.2f} {wer}"
    )


if __name__ == "__main__":
    main()
