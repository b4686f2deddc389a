"""The listeners' fan-out (spaces/realtime/fanout.py): written after speakers, paced by the tick,
never starving and never out of order."""

import time

from spaces.realtime.fanout import Fanout


class Listener:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def push(self, data: bytes) -> bool:
        self.got.append(data)
        return True


def crowd(n: int) -> list[Listener]:
    return [Listener() for _ in range(n)]


def test_without_a_deadline_every_listener_gets_every_message_in_order():
    fanout, listeners = Fanout(), crowd(100)
    for data in (b"one", b"two", b"three"):
        fanout.add(data, listeners)
    fanout.run()
    assert all(x.got == [b"one", b"two", b"three"] for x in listeners)
    assert not fanout.jobs


def test_a_deadline_splits_a_large_fan_out_across_ticks_without_losing_or_reordering():
    fanout, listeners = Fanout(), crowd(1000)
    fanout.add(b"one", listeners)
    fanout.add(b"two", listeners)
    fanout.run(until=time.monotonic() - 1)  # this tick's time is up: a young message waits
    written = sum(len(x.got) for x in listeners)
    assert 0 < written < 1000  # some now, the rest after the next tick's speakers
    assert fanout.carried == 1
    fanout.add(b"three", listeners)
    fanout.run()
    assert all(x.got == [b"one", b"two", b"three"] for x in listeners)


def test_a_message_waiting_past_the_lag_is_written_whole_even_when_ticks_run_late():
    """On an overloaded machine every tick is late; listeners must still hear, not starve."""
    fanout, listeners = Fanout(max_lag=0.06), crowd(500)
    fanout.add(b"late", listeners)
    fanout.jobs[0].made -= 0.1
    fanout.run(until=time.monotonic() - 1)
    assert all(x.got == [b"late"] for x in listeners)


def test_a_message_too_old_to_matter_is_skipped_and_counted():
    fanout, listeners = Fanout(max_age=1.0), crowd(10)
    fanout.add(b"stale", listeners)
    fanout.jobs[0].made -= 2
    fanout.add(b"fresh", listeners)
    fanout.run()
    assert all(x.got == [b"fresh"] for x in listeners)
    assert fanout.skipped == 10


def test_a_message_for_nobody_is_not_queued():
    fanout = Fanout()
    fanout.add(b"mix", [])
    assert not fanout.jobs
