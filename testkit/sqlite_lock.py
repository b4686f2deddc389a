"""Another process holding SQLite's write lock (BEGIN EXCLUSIVE), as a backup job or a stuck
admin shell would: for drill F6 and the faults it is short for."""

import subprocess
import sys
import time
from pathlib import Path

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
if sys.argv[2] == "until-told":
    sys.stdin.readline()
else:
    time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
print("released", flush=True)
"""


class Locker:
    """Holds the lock from its start (it returns once the lock is held) for `seconds`, or, with
    None, until `release()`."""

    def __init__(self, path: Path, seconds: float | None = None) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LOCKER,
                str(path),
                "until-told" if seconds is None else str(seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "locked":
            self.proc.kill()
            raise RuntimeError("the locker did not get its lock")
        self.locked = time.monotonic()
        self.released: float | None = None

    def release(self) -> tuple[float, float]:
        """Lets go now (a locker started without `seconds`); answers as `wait` does."""
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return self.wait()

    def wait(self) -> tuple[float, float]:
        """Until it lets go; answers (locked at, released at)."""
        line = self.proc.stdout.readline().strip()
        self.released = time.monotonic()
        self.proc.wait(10)
        if line != "released":
            raise RuntimeError("the locker failed")
        return self.locked, self.released

    def __enter__(self) -> "Locker":
        return self

    def __exit__(self, *_exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
