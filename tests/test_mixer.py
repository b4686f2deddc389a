"""The per-room mixer: the room mix, mix-minus, clipping, levels and the tick (the jitter buffers
it draws from are tested in test_jitter.py)."""

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spaces.realtime.audio import AudioEngine
from spaces.realtime.jitter import PREFILL, JitterBuffer
from spaces.realtime.mixer import level, mix_tick
from testkit.audio import FRAME_BYTES, FRAME_SAMPLES, FRAME_SECONDS, SILENCE, tone
from testkit.waiting import wait_until


def const(value: int) -> bytes:
    return np.full(FRAME_SAMPLES, value, dtype="<i2").tobytes()


def samples(frame: bytes) -> np.ndarray:
    return np.frombuffer(frame, dtype="<i2").astype(np.int32)


def primed(*frames: bytes) -> JitterBuffer:
    """A buffer that will play `frames` (already past its prefill)."""
    buffer = JitterBuffer()
    for frame in frames:
        buffer.push(frame)
    assert len(frames) >= PREFILL
    return buffer


# Mix and mix-minus ----------------------------------------------------------------------------


def test_mix_is_the_sum_and_each_speaker_hears_everyone_but_themselves():
    a, b, c = tone(500), tone(1500), tone(2500, 4000)
    buffers = {1: primed(a, a), 2: primed(b, b), 3: primed(c, c)}
    result = mix_tick(buffers, {1, 2, 3})

    assert np.array_equal(samples(result.mix), samples(a) + samples(b) + samples(c))
    assert np.array_equal(samples(result.minus[1]), samples(b) + samples(c))
    assert np.array_equal(samples(result.minus[2]), samples(a) + samples(c))
    assert np.array_equal(samples(result.minus[3]), samples(a) + samples(b))
    assert result.frames == {1: a, 2: b, 3: c}


def test_a_lone_speaker_hears_silence_not_their_own_voice():
    a = tone(500)
    result = mix_tick({1: primed(a, a)}, {1})
    assert result.mix == a
    assert result.minus[1] == SILENCE


def test_a_speaker_who_is_not_sending_hears_the_whole_mix():
    a = tone(500)
    result = mix_tick({1: primed(a, a), 2: JitterBuffer()}, {1, 2})
    assert result.minus[2] == a
    assert result.minus[1] == SILENCE
    assert set(result.levels) == {1}


def test_nobody_speaking_is_silence_for_everyone():
    result = mix_tick({1: JitterBuffer()}, {1})
    assert result.mix == SILENCE
    assert result.minus == {1: SILENCE}
    assert result.levels == {}
    assert len(result.mix) == FRAME_BYTES


# Clipping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, limit", [(30_000, 32_767), (-30_000, -32_768)])
def test_two_loud_frames_clamp_and_never_wrap(value, limit):
    loud = const(value)
    result = mix_tick({1: primed(loud, loud), 2: primed(loud, loud)}, {1, 2})
    mixed = samples(result.mix)
    assert (mixed == limit).all()  # int16 wrap-around would flip the sign
    assert (samples(result.minus[1]) == value).all()


def test_mix_minus_of_three_loud_speakers_also_clamps():
    loud = tone(500, 30_000)
    buffers = {uid: primed(loud, loud) for uid in (1, 2, 3)}
    result = mix_tick(buffers, {1, 2, 3})
    expected = np.clip(samples(loud) * 2, -32_768, 32_767)
    for uid in (1, 2, 3):
        assert np.array_equal(samples(result.minus[uid]), expected)
    assert np.sign(samples(result.mix)).tolist() == np.sign(samples(loud)).tolist()


VOICE = arrays(np.int16, FRAME_SAMPLES, elements=st.integers(-32_768, 32_767))


@given(st.lists(VOICE, min_size=1, max_size=4))
def test_any_voices_mix_to_their_clamped_sum_and_each_speaker_hears_the_others(voices):
    """Whatever the speakers send: the mix is their sum clamped to 16 bits (never wrapped), each
    speaker hears everyone else's sum (clamped the same way; silence when alone), a speaker who
    sends nothing hears the whole mix, and every level is between 0 and 1."""
    buffers = {uid: primed(*[v.tobytes()] * PREFILL) for uid, v in enumerate(voices, 1)}
    quiet = len(voices) + 1  # on stage, sending nothing this tick
    result = mix_tick(buffers, {*buffers, quiet})

    total = np.sum([v.astype(np.int64) for v in voices], axis=0)
    assert np.array_equal(samples(result.mix), np.clip(total, -32_768, 32_767))
    for uid, voice in enumerate(voices, 1):
        others = np.clip(total - voice, -32_768, 32_767)
        expected = SILENCE if len(voices) == 1 else others.astype("<i2").tobytes()
        assert result.minus[uid] == expected
    assert result.minus[quiet] == result.mix
    assert set(result.levels) == set(buffers)
    assert all(0.0 <= value <= 1.0 for value in result.levels.values())


# Levels ---------------------------------------------------------------------------------------


def test_level_scale_runs_from_minus_60_dbfs_to_full_scale():
    def at_dbfs(db: float) -> np.ndarray:
        # A square wave's RMS equals its amplitude.
        amplitude = 32_768 * 10 ** (db / 20)
        return np.where(np.arange(FRAME_SAMPLES) % 2 == 0, amplitude, -amplitude)

    assert level(np.zeros(FRAME_SAMPLES, dtype=np.int16)) == 0.0
    assert level(np.array([], dtype=np.int16)) == 0.0
    assert level(at_dbfs(-70)) == 0.0  # below -60 dBFS is silence
    assert level(at_dbfs(-20)) == pytest.approx(40 / 60, abs=0.01)
    assert level(at_dbfs(-6)) == pytest.approx(54 / 60, abs=0.01)
    assert level(at_dbfs(0)) == pytest.approx(1.0, abs=0.01)
    assert level(np.full(FRAME_SAMPLES, -32_768, dtype=np.int16)) == 1.0  # never above 1
    quiet, loud = level(samples(tone(500, 1000))), level(samples(tone(500, 10_000)))
    assert 0 < quiet < loud < 1
    assert loud - quiet == pytest.approx(20 / 60, abs=0.01)  # 10x louder is 20 dB


def test_levels_are_reported_per_speaker():
    result = mix_tick({1: primed(tone(500, 10_000), tone(500)), 2: primed(SILENCE, SILENCE)})
    assert result.levels[1] > 0.5
    assert result.levels[2] == 0.0


# Timing ---------------------------------------------------------------------------------------


def test_the_mixer_ticks_on_its_20_ms_schedule_late_at_worst_never_early(app):
    """The tick sends every listener a frame: 50 a second. A busy machine can make ticks late
    (and a stall skips them), never early; so 100 ticks take at least 2 s and, generously, at
    most 4 s. The measured pace is a figure: bench/realtime_targets.py."""
    engine = AudioEngine(app)
    started = time.monotonic()
    engine.start()
    try:
        wait_until(lambda: engine.stats["ticks"] >= 100, 30, 0.01, what="100 ticks")
        ticks, elapsed = engine.stats["ticks"], time.monotonic() - started
    finally:
        engine.stop()
    assert ticks <= elapsed / FRAME_SECONDS + 2, "ahead of the 20 ms schedule"
    assert elapsed <= 2 * ticks * FRAME_SECONDS, "far behind the 20 ms schedule"
