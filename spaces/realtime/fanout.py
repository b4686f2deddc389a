"""Listeners' fan-out, paced by the audio tick.

Speakers are in the conversation and listeners are not: each tick serves every speaker first,
then writes listeners' messages until shortly before the next tick is due. What is left carries
over to the next tick, after that tick's speakers. So a tick is never late because of listeners
(at 2,000 listeners one message's fan-out took longer than a tick, and the next tick's speakers
waited behind it: their p99 was 127 ms), and listeners absorb the spread, a few tens of
milliseconds at most, within their larger budget (docs/bench-audio.md).

The fan-out stays on the tick's own thread: a second thread would contend with the tick for the
GIL on every socket write, and the tick's encodes would wait behind it.
"""

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LAG = 0.06  # seconds: a message this old is written even past the deadline (no starving)
MAX_AGE = 1.0  # seconds a message may wait to be written; older ones are skipped (overload)


@dataclass(eq=False)
class Job:
    data: bytes  # one websocket frame, the same bytes for every outbox
    outboxes: Sequence  # Outbox-like: push(bytes)
    made: float
    done: int = 0  # outboxes written so far


class Fanout:
    """Messages waiting to be written to listeners, oldest first. Used by the tick thread only."""

    def __init__(self, max_lag: float = MAX_LAG, max_age: float = MAX_AGE) -> None:
        self.max_lag = max_lag
        self.max_age = max_age
        self.jobs: deque[Job] = deque()
        self.skipped = 0  # writes not made: a message older than max_age (per listener)
        self.carried = 0  # ticks that ended with messages still to write

    def add(self, data: bytes, outboxes: Sequence) -> None:
        if outboxes:
            self.jobs.append(Job(data, outboxes, time.monotonic()))

    def run(self, until: float | None = None) -> None:
        """Writes pending messages in order until the monotonic time `until` (None: all). A
        message already `max_lag` old is written past `until`: when ticks run late (an overloaded
        machine) listeners fall back to being written every tick rather than starving."""
        jobs = self.jobs
        while jobs:
            job = jobs[0]
            if time.monotonic() - job.made > self.max_age:
                self.skipped += len(job.outboxes) - job.done
                jobs.popleft()
                continue
            outboxes, data, i, n = job.outboxes, job.data, job.done, len(job.outboxes)
            while i < n:
                outboxes[i].push(data)
                i += 1
                if until is not None and not i & 15:  # the clock every 16 writes (~0.2 ms)
                    t = time.monotonic()
                    if t >= until and t - job.made < self.max_lag:
                        job.done = i
                        self.carried += 1
                        return
            jobs.popleft()
