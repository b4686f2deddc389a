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

Each drill prints one line, `drill NAME ok|MISSED|FAIL key=value ... seconds=S`, and the run
ends with a summary line. FAIL: the behaviour failed (`why=`: frames lost, presence wrong,
errors); MISSED: the behaviour held but a speed target was missed (`missed=`: a p95). Either
makes the run exit 1; tests/test_drills.py accepts MISSED (speed is a figure on a busy machine).
docs/reliability.md has the figures. Each drill is a module of bench/drill/.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from drill import (
    f1_crash,
    f2_slow_readers,
    f3_network_drop,
    f4_full_disk,
    f5_captions_down,
    f6_locked_database,
    l1_soak,
    l2_churn,
    l3_round_trip,
    l4_grants,
)
from drill.kit import Figures, fmt

RUNNERS = {
    "L1": l1_soak.run,
    "L2": l2_churn.run,
    "L3": l3_round_trip.run,
    "L4": l4_grants.run,
    "F1": f1_crash.run,
    "F2": f2_slow_readers.run,
    "F3": f3_network_drop.run,
    "F4": f4_full_disk.run,
    "F5": f5_captions_down.run,
    "F6": f6_locked_database.run,
}
DRILLS = list(RUNNERS)


class DrillTimeout(Exception):
    pass


def time_limit(name: str, args) -> int:
    """Seconds a drill may take, all set-up included (tiny: under tests/test_drills.py's own
    limit, so that a stuck drill still prints its line)."""
    if args.tiny:
        return 200
    if name == "L1":
        return int((args.minutes or (1 if args.quick else 10)) * 60 + 600)
    return 300 if args.quick else 600


def run(name: str, args, root: Path) -> tuple[str, str]:
    """Runs one drill: its outcome (ok, MISSED or FAIL) and its line."""
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
    outcome = "FAIL" if error or fig.failures else "MISSED" if fig.missed else "ok"
    fig["seconds"] = time.monotonic() - started
    words = [f"{k}={fmt(v)}" for k, v in fig.items()]
    if error:
        words.append(f"error={fmt(error)}")
    if fig.failures:
        words.append(f"why={fmt('; '.join(fig.failures))}")
    if fig.missed:
        words.append(f"missed={fmt('; '.join(fig.missed))}")
    line = f"drill {name} {outcome} " + " ".join(words)
    print(line, flush=True)
    return outcome, line


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
        "--listeners", type=int, help=f"L1's listeners (default {l1_soak.LISTENERS}; quick 200)"
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
    passed = sum(outcome == "ok" for _, outcome in results)
    listing = ", ".join(f"{n} {outcome}" for n, outcome in results)
    print(
        f"drills ok={passed} failed={len(results) - passed} ({listing})"
        f" quick={fmt(args.quick)} seconds={time.monotonic() - started:.0f}",
        flush=True,
    )
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
