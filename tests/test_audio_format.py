"""The room's audio format: the protocol document states it, and PCM cuts into whole frames."""

import re
from pathlib import Path

import numpy as np

from spaces.audio_format import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    FRAME_SECONDS,
    SAMPLE_DTYPE,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    SILENCE,
    frames_of,
)

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "audio-protocol.md"


def test_the_protocol_document_states_the_servers_format():
    text = re.sub(r"\s+", " ", PROTOCOL.read_text()).replace("**", "")
    stated = (
        f"one {FRAME_SECONDS * 1000:.0f} ms frame: {FRAME_SAMPLES} samples of "
        f"{SAMPLE_RATE // 1000} kHz mono signed {8 * SAMPLE_WIDTH}-bit little-endian PCM, "
        f"{FRAME_BYTES} bytes"
    )
    assert stated in text


def test_a_clip_cuts_into_frames_that_play_it_back_with_a_silent_tail():
    t = np.arange(int(2.5 * FRAME_SAMPLES)) / SAMPLE_RATE
    clip = np.round(8000 * np.sin(2 * np.pi * 440 * t)).astype(SAMPLE_DTYPE).tobytes()
    frames = frames_of(clip)
    assert [len(f) for f in frames] == [FRAME_BYTES] * 3
    assert b"".join(frames)[: len(clip)] == clip
    assert frames[-1][FRAME_BYTES // 2 :] == SILENCE[FRAME_BYTES // 2 :]
    assert frames_of(b"") == []
    assert frames_of(SILENCE * 2) == [SILENCE, SILENCE]
