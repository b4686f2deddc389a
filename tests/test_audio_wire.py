"""Protocol v2's header (spaces/audio_wire.py): what is packed comes back, and a broken message
is refused rather than misread."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces.audio_wire import HEADER, Message, age_ms, clock_ms, pack, unpack


def test_a_message_with_frames_and_levels_comes_back_whole():
    message = Message([b"\x01\x02", b"", b"x" * 300], 7, 1234, 5678, {3: 1.0, 70000: 0.0})
    again = unpack(pack(message))
    assert again.frames == message.frames
    assert (again.seq, again.capture_ms, again.mix_ms) == (7, 1234, 5678)
    assert again.levels == {3: 1.0, 70000: 0.0}


def test_one_opus_frame_costs_sixteen_bytes_of_header_and_two_of_length():
    packet = bytes(60)
    assert len(pack(Message([packet], 1))) == HEADER.size + 2 + 60 == 78


def test_levels_travel_in_a_byte_each():
    again = unpack(pack(Message([], 0, levels={5: 0.5, 6: 0.123})))
    assert again.levels[5] == pytest.approx(0.5, abs=1 / 255)
    assert again.levels[6] == pytest.approx(0.123, abs=1 / 255)
    assert unpack(pack(Message([], 0))).levels is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(640),  # a v1 PCM frame of silence: version 0
        pack(Message([b"abc"], 1))[:-1],  # cut inside the frame
        pack(Message([b"abc"], 1)) + b"!",  # trailing bytes
        pack(Message([], 1, levels={1: 0.5}))[:-2],  # cut inside the levels
    ],
)
def test_anything_else_is_refused(data):
    with pytest.raises(ValueError):
        unpack(data)


@given(
    st.lists(st.binary(max_size=200), max_size=10),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
)
def test_any_message_round_trips(frames, seq, capture, mix):
    again = unpack(pack(Message(frames, seq, capture, mix)))
    assert (again.frames, again.seq, again.capture_ms, again.mix_ms) == (frames, seq, capture, mix)


def test_ages_are_counted_across_the_wrap_of_the_millisecond_clock():
    assert age_ms(2**32 - 10, now=30) == 40
    assert age_ms(clock_ms()) < 1000
