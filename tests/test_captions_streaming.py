"""The streaming caption policy and worker on recorded speech, with the real bundled model.

WER normalisation (as in bench/captions.py): `spoken_form`: lowercase, punctuation dropped,
numbers spelled out ("10" and "ten" alike).
"""

from __future__ import annotations

import time
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf

from spaces.captions import (
    CaptionModelUnavailable,
    CaptionUpdate,
    CaptionWorker,
    SpeakerStream,
    Transcriber,
    load_model,
    warm_up,
)
from spaces.captions.numbers import spoken_form
from testkit.waiting import wait_until

pytestmark = pytest.mark.model

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"


def wer(ref: str, hyp: str) -> float:
    return jiwer.wer(spoken_form(ref), spoken_form(hyp) or "<empty>")


def clip(name: str) -> np.ndarray:
    audio, rate = sf.read(AUDIO / f"{name}.wav", dtype="int16")
    assert rate == 16000
    return audio


def text(name: str) -> str:
    return (AUDIO / f"{name}.txt").read_text()


def program(*names: str, gap_s: float = 1.0) -> bytes:
    silence = np.zeros(int(gap_s * 16000), dtype=np.int16)
    return np.concatenate([part for n in names for part in (clip(n), silence)]).tobytes()


def play(stream: SpeakerStream, pcm: bytes, transcribe, step_every: int = 2) -> list[CaptionUpdate]:
    """Feed 20 ms frames on a timeline from 0, stepping every `step_every` frames."""
    updates = []
    for i in range(len(pcm) // 640):
        stream.feed(pcm[i * 640 : (i + 1) * 640], i * 0.02)
        if i % step_every == step_every - 1:
            updates += stream.step(transcribe)
    stream.end()
    while not stream.idle:
        updates += stream.step(transcribe)
    return updates


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    model = load_model(None)
    warm_up(model)
    return Transcriber(model)


@pytest.fixture(scope="module")
def two_sentences(transcriber) -> list[CaptionUpdate]:
    return play(SpeakerStream(), program("sample01", "sample03"), transcriber)


def test_a_pause_splits_utterances_into_two_finals(two_sentences):
    finals = [u for u in two_sentences if u.kind == "final"]
    assert len(finals) == 2
    first, second = finals
    assert first.utterance_id < second.utterance_id
    assert 0.0 <= first.start < 1.0 and 4.5 < first.end < 6.1  # sample01 is 6.0 s long
    assert first.end < 7.0 < second.start < 8.0 < second.end < 11.9  # then 1 s of silence
    assert wer(text("sample01"), first.text) <= 0.1
    assert wer(text("sample03"), second.text) <= 0.1


def test_committed_words_never_change_and_finals_are_stable(two_sentences):
    partials_seen = 0
    for uid in {u.utterance_id for u in two_sentences}:
        mine = [u for u in two_sentences if u.utterance_id == uid]
        assert [u.kind for u in mine].count("final") == 1
        assert mine[-1].kind == "final"  # nothing follows a final
        committed: list[str] = []
        for u in mine[:-1]:
            now = u.text.split()
            assert now[: len(committed)] == committed, "a committed word changed"
            assert len(now) > len(committed), "a partial must add words"
            committed = now
            partials_seen += 1
    assert partials_seen >= 4  # partials did appear while speaking


def test_final_wer_against_transcripts(transcriber):
    names = ("jfk", "sample02", "sample05")
    updates = play(SpeakerStream(), program(*names), transcriber)
    hyp = " ".join(u.text for u in updates if u.kind == "final")
    ref = " ".join(text(n) for n in names)
    assert wer(ref, hyp) <= 0.15, hyp


def test_missing_or_broken_model_is_a_clear_error(tmp_path):
    with pytest.raises(CaptionModelUnavailable, match="no model directory"):
        load_model(str(tmp_path / "absent"))
    (tmp_path / "model.bin").write_bytes(b"not a model")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CaptionModelUnavailable, match="could not be loaded"):
        load_model(str(tmp_path))


def test_worker_without_model_is_unavailable_and_harmless(tmp_path):
    worker = CaptionWorker(str(tmp_path / "absent"))
    worker.start()
    try:
        assert worker.wait_ready(30) is False
        counters = worker.counters()
        assert counters["available"] is False
        assert "no model directory" in counters["error"]
        worker.feed((1, 1), b"\0" * 640, 0.0)  # a cheap no-op, no exception
        worker.end_stream((1, 1))
        assert worker.poll() == []
        assert (1, 1) not in worker.counters()
    finally:
        worker.stop()


def test_worker_process_end_to_end():
    worker = CaptionWorker()
    worker.start()
    try:
        assert worker.wait_ready(60), worker.counters()["error"]
        pcm = program("sample04")
        frames = len(pcm) // 640
        updates = []
        for i in range(frames):  # 4x faster than real time
            worker.feed((7, 1), pcm[i * 640 : (i + 1) * 640], 100.0 + i * 0.02)
            time.sleep(0.005)  # pacing: 4x real time, not a wait for anything
            updates += worker.poll()

        def final_arrived() -> bool:
            updates.extend(worker.poll())
            return any(u.kind == "final" for _, u in updates)

        wait_until(final_arrived, 60, what="the final caption")
        finals = [u for key, u in updates if u.kind == "final" and key == (7, 1)]
        assert len(finals) == 1
        assert wer(text("sample04"), finals[0].text) <= 0.1
        assert 100.0 <= finals[0].start < finals[0].end <= 100.0 + frames * 0.02
        # The model process reports its counters every 0.2 s: wait for the one counting them all.
        wait_until(
            lambda: worker.counters()[(7, 1)]["frames_model"] == frames,
            10,
            what="the model process's counters for every frame",
        )
        counters = worker.counters()
        assert counters["available"] is True and counters["error"] is None
        mine = counters[(7, 1)]
        assert mine["frames_fed"] == frames and mine["frames_dropped"] == 0
        assert mine["frames_model"] == frames  # every frame reached the model process
        assert mine["model_calls"] >= 1 and mine["finals"] == 1
        assert (7, 2) not in counters  # a speaker never fed never reaches the model

        worker._proc.kill()  # a crash of the model process
        wait_until(
            lambda: not worker.counters()["available"],
            10,
            what="the worker noticing the model process died",
        )
        counters = worker.counters()
        assert counters["available"] is False and "exited" in counters["error"]
        worker.feed((7, 1), pcm[:640], 200.0)  # no-op, no exception
        assert worker.counters()[(7, 1)]["frames_fed"] == frames
    finally:
        worker.stop()
