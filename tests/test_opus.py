"""The Opus wrapper (spaces/realtime/opus.py): speech survives a round trip, near the bitrate
asked, and a packet that is not Opus is counted, not raised."""

import os
import subprocess
import sys

import jiwer
import numpy as np
import pytest

from spaces.captions.engine import load_model
from spaces.realtime.opus import COMPLEXITY, OpusDecoder, OpusEncoder
from testkit.audio import FRAME_BYTES, SHARED_AUDIO, speech, tone_frames
from testkit.opus_wire import round_trip
from testkit.server import ROOT


def test_a_tone_comes_back_in_time():
    frames = tone_frames(2.0, 440, 10_000)
    out, packets, _ = round_trip(frames)
    assert all(packets) and len(out) // FRAME_BYTES >= len(frames) - 1
    sent = np.frombuffer(b"".join(frames), "<i2").astype(float)
    got = np.frombuffer(out, "<i2").astype(float)
    # Codec and resampler delay: the best lag under 10 ms lines the two up.
    lag = max(range(160), key=lambda k: np.dot(sent[8000:24000], got[8000 + k : 24000 + k]))
    corr = np.corrcoef(sent[8000:24000], got[8000 + lag : 24000 + lag])[0, 1]
    assert corr > 0.95


def test_speech_costs_about_the_bitrate_asked():
    frames = speech("conversation")
    _, packets, _ = round_trip(frames)
    kbps = sum(len(p) for p in packets) * 8 / (len(frames) * 0.02) / 1000
    assert 15 < kbps < 26  # 19.8 measured


def test_a_packet_that_is_not_opus_is_counted_and_gives_nothing():
    decoder = OpusDecoder()
    assert decoder.decode(b"") == []
    assert decoder.decode(bytes(2000)) == []
    assert decoder.errors == 2
    encoder = OpusEncoder()
    frames = [f for _ in range(3) for f in decoder.decode(encoder.encode(bytes(FRAME_BYTES)))]
    assert frames  # it still decodes what follows


@pytest.mark.model
def test_speech_through_opus_is_transcribed_as_well_as_the_original():
    frames = speech("jfk")
    out, _, _ = round_trip(frames)
    model = load_model(None)
    reference = (SHARED_AUDIO / "jfk.txt").read_text()

    def wer(pcm: bytes) -> float:
        audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        segments, _ = model.transcribe(audio, language="en", beam_size=5)
        text = " ".join(s.text for s in segments)
        norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.Strip()])
        return jiwer.wer(norm(reference), norm(text))

    assert wer(out) <= wer(b"".join(frames)) + 0.02


@pytest.mark.model
def test_the_complexity_benchmark_compares_levels_by_what_the_model_hears():
    """`bench/opus_complexity.py --tiny`: both levels asked are measured and the product's level
    keeps the speech as understandable as the original."""
    result = subprocess.run(
        [sys.executable, "bench/opus_complexity.py", "--tiny", "--levels", f"10,{COMPLEXITY}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    figures = dict(part.split("=") for part in last.split()[1:])
    assert last.startswith("opus_complexity ") and {"c10_us", f"c{COMPLEXITY}_us"} <= set(figures)
    assert float(figures[f"c{COMPLEXITY}_wer"]) <= float(figures["pcm_wer"]) + 0.02, last
