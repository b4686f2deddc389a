"""A speaker's jitter buffer: prefill, the maximum, underruns, trimming a standing surplus, and
pushes from the socket thread while the tick thread takes."""

import threading

from hypothesis import given
from hypothesis import strategies as st

from spaces.realtime.jitter import MAX_BUFFER, PREFILL, TRIM_AFTER, JitterBuffer


def numbered(n: int) -> bytes:
    """A frame that says where it was in the speaker's stream (the buffer never looks inside)."""
    return n.to_bytes(4, "big")


def number(frame: bytes) -> int:
    return int.from_bytes(frame, "big")


class Sender:
    """Pushes numbered frames into a buffer; `tick()` takes one as the mixer does."""

    def __init__(self) -> None:
        self.buffer = JitterBuffer()
        self.sent = 0
        self.played: list[int] = []
        self.silent = 0

    def send(self, count: int = 1) -> None:
        for _ in range(count):
            self.buffer.push(numbered(self.sent))
            self.sent += 1

    def tick(self) -> bytes | None:
        frame = self.buffer.next_frame()
        if frame is None:
            self.silent += 1
        else:
            self.played.append(number(frame))
        return frame


# Prefill and underrun ---------------------------------------------------------------------------


def test_a_speaker_is_heard_only_once_the_prefill_is_buffered():
    s = Sender()
    for _ in range(PREFILL - 1):
        s.send()
        assert s.tick() is None  # still filling
    s.send()
    assert number(s.tick()) == 0  # plays from the oldest frame, nothing skipped


def test_an_underrun_gives_silence_then_refills_before_playing_again():
    s = Sender()
    s.send(2)
    assert [number(s.tick()), number(s.tick())] == [0, 1]
    assert s.tick() is None  # underrun: silence, not a repeat or a stall
    assert s.buffer.underruns == 1
    s.send()
    assert s.tick() is None  # refilling: one frame is not enough
    s.send()
    assert number(s.tick()) == 2
    assert s.buffer.dropped == 0


def test_forgetting_a_speaker_who_went_off_air_makes_them_prefill_again():
    s = Sender()
    s.send(4)
    s.tick()
    s.buffer.clear()
    assert len(s.buffer) == 0
    s.send()
    assert s.tick() is None
    s.send()
    assert number(s.tick()) == 4


# The maximum ------------------------------------------------------------------------------------


def test_an_overrun_drops_the_oldest_frames():
    s = Sender()
    s.send(MAX_BUFFER + 5)
    assert len(s.buffer) == MAX_BUFFER
    assert s.buffer.dropped == 5
    assert number(s.tick()) == 5  # the oldest five are gone; the newest kept


def test_a_fast_sender_never_makes_the_delay_grow():
    """A speaker whose clock runs 10% fast (or who bursts after a stall) for ten minutes of ticks:
    the buffered delay stays bounded, and is the same after ten minutes as after ten seconds."""
    s = Sender()
    delays = []
    for tick in range(30_000):  # ten minutes of 20 ms ticks
        s.send(int(tick * 1.1) + 1 - s.sent)
        if tick % 1000 == 500:  # a burst, as after a network stall
            s.send(20)
        s.tick()
        delays.append(len(s.buffer))
    assert max(delays) <= MAX_BUFFER
    assert delays[500] == delays[-1] == delays[29_500]
    assert s.buffer.dropped > 0


def test_a_slow_sender_gets_silence_on_underrun_never_extra_delay():
    s = Sender()
    for tick in range(5000):
        if tick % 10 != 0:  # 10% of frames never arrive
            s.send()
        s.tick()
        assert len(s.buffer) <= PREFILL
    assert s.buffer.underruns > 0
    assert s.silent < 5000 * 0.3


# Trimming ---------------------------------------------------------------------------------------


def test_frames_late_then_bunched_add_delay_for_one_second_only():
    """Two frames arrive late, then together with the next one. The buffer ran dry, refilled to
    the prefill and now holds a spare frame: 20 ms more delay at an even pace, for good unless
    trimmed. After TRIM_AFTER ticks the oldest frame is dropped and the delay is back."""
    s = Sender()
    s.send(PREFILL)
    for _ in range(100):  # steady: one in, one out, one to spare on arrival
        s.tick()
        s.send()
    for _ in range(3):  # nothing arrives: the two held frames play, then it runs dry
        s.tick()
    assert s.silent == 1
    s.send(3)  # the two late frames and the current one
    held = []
    for _ in range(3 * TRIM_AFTER):
        s.tick()
        held.append(len(s.buffer))
        s.send()
    assert held[: TRIM_AFTER - 1] == [2] * (TRIM_AFTER - 1)
    assert set(held[TRIM_AFTER - 1 :]) == {1}
    assert s.buffer.dropped == 1
    skipped = [a for a, b in zip(s.played, s.played[1:], strict=False) if b != a + 1]
    assert len(skipped) == 1  # exactly one frame, the oldest held, was skipped
    assert s.silent == 1


def test_a_sender_of_paired_frames_loses_nothing():
    """Frames that come two at a time every 40 ms leave a spare frame every other tick: the
    buffer needs it, so it is never trimmed and never runs dry."""
    s = Sender()
    for tick in range(10_000):
        if tick % 2 == 0:
            s.send(2)
        s.tick()
    assert s.buffer.dropped == 0
    assert s.buffer.underruns == 0
    assert s.played == list(range(len(s.played)))


def test_a_steady_sender_is_never_trimmed():
    s = Sender()
    s.send(PREFILL)
    for _ in range(30_000):
        s.tick()
        s.send()
    assert s.buffer.dropped == 0
    assert s.silent == 0


# Properties -------------------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=MAX_BUFFER + 2), max_size=400))
def test_frames_come_out_in_order_and_never_more_than_the_maximum_is_held(arrivals):
    """Any pattern of arrivals (how many frames come in before each tick)."""
    s = Sender()
    for count in arrivals:
        for _ in range(count):
            s.send()
            assert len(s.buffer) <= MAX_BUFFER
        ready = len(s.buffer) >= PREFILL
        frame = s.tick()
        if ready:
            assert frame is not None  # a buffer holding its prefill always plays
    assert all(a < b for a, b in zip(s.played, s.played[1:], strict=False))
    assert s.sent == len(s.played) + s.buffer.dropped + len(s.buffer)


def test_frames_pushed_by_one_thread_while_another_ticks_are_all_accounted_for():
    s = Sender()
    total = 50_000
    pushed = []

    def socket_thread() -> None:
        for n in range(total):
            s.buffer.push(numbered(n))
            pushed.append(n)

    pusher = threading.Thread(target=socket_thread)
    pusher.start()
    while pusher.is_alive():
        s.tick()
    assert len(pushed) == total  # the socket thread got through every push
    assert all(a < b for a, b in zip(s.played, s.played[1:], strict=False))
    assert total == len(s.played) + s.buffer.dropped + len(s.buffer)
    assert len(s.buffer) <= MAX_BUFFER
