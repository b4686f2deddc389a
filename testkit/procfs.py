"""What /proc says about a process and the machine: CPU time, memory, threads, TCP states."""

import contextlib
import os
from pathlib import Path

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    return _cpu(Path(f"/proc/{pid}/stat").read_text())


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time of each thread of a process so far."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError):
            times[int(task.name)] = _cpu((task / "stat").read_text())
    return times


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICK


def status_field(pid: int, name: str) -> int:
    """A number from /proc/PID/status (VmRSS in kB, Threads ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    return status_field(pid, "VmRSS") / 1024


def thread_count(pid: int) -> int:
    return status_field(pid, "Threads")


TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The kernel's state of the 127.0.0.1 socket local_port -> remote_port (None: gone)."""
    want = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == want:
            return TCP_STATES.get(fields[3], fields[3])
    return None
