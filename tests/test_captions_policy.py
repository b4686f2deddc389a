"""The caption policy with a scripted `transcribe` (no model): LocalAgreement, rate limits,
timeline gaps, scheduling under overload and the worker's non-blocking feed. Real Silero VAD."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from spaces.captions import CaptionWorker, SpeakerStream, StreamPolicy, StreamSet
from spaces.captions.agreement import LocalAgreement
from spaces.captions.engine import normalise_word

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"
SENTENCE = [
    "welcome",
    "everyone",
    "to",
    "the",
    "space",
    "today",
    "we",
    "are",
    "talking",
    "about",
    "community",
    "radio",
]


def speech(name: str = "sample01", tail_s: float = 1.0) -> bytes:
    audio, _ = sf.read(AUDIO / f"{name}.wav", dtype="int16")
    return np.concatenate([audio, np.zeros(int(tail_s * 16000), dtype=np.int16)]).tobytes()


class Scripted:
    """Says 2.5 words of SENTENCE per second of audio, continuing after the prefix."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, bool]] = []

    def __call__(
        self, audio: np.ndarray, *, prefix: str = "", final: bool = False, prompt: str = ""
    ) -> str:
        self.calls.append((len(audio) / 16000, prefix, final))
        said = SENTENCE[: int(len(audio) / 16000 * 2.5)]
        return " ".join(said[len(prefix.split()) :])


def feed(stream, pcm: bytes, start: float = 0.0, step=None) -> list:
    updates = []
    for i in range(len(pcm) // 640):
        stream.feed(pcm[i * 640 : (i + 1) * 640], start + i * 0.02)
        if step is not None:
            updates += stream.step(step)
    return updates


def test_local_agreement_commits_what_two_hypotheses_share():
    agree = LocalAgreement()
    assert agree.insert(["hello", "wor"]) == []
    assert agree.insert(["Hello,", "world", "how"]) == ["Hello,"]
    assert agree.insert(["world", "how", "are"]) == ["world", "how"]
    assert agree.text == "Hello, world how"
    assert agree.insert_full(["goodbye"]) == []  # does not extend the committed words


# A few words, some differing only in case and punctuation, so hypotheses often agree.
WORDS = ["so", "So,", "ask", "not", "what", "what?", "your"]
HYPOTHESIS = st.lists(st.sampled_from(WORDS), max_size=6)


@given(st.lists(HYPOTHESIS, max_size=12))
def test_committed_words_never_change_and_are_what_two_hypotheses_agreed_on(tails):
    """Any run of streaming hypotheses (each the words after the committed ones)."""
    agree = LocalAgreement()
    previous: list[str] = []
    for tail in tails:
        before = list(agree.committed)
        new = agree.insert(tail)
        assert agree.committed == before + new  # shown words never change
        assert new == tail[: len(new)]
        agreed = [normalise_word(w) for w in previous[: len(new)]]
        assert [normalise_word(w) for w in new] == agreed  # both hypotheses said them
        rest, waiting = tail[len(new) :], previous[len(new) :]
        if rest and waiting:  # and all they agreed on is committed, not less
            assert normalise_word(rest[0]) != normalise_word(waiting[0])
        previous = rest
        assert agree.text == " ".join(agree.committed)


@given(st.lists(HYPOTHESIS, max_size=8), HYPOTHESIS)
def test_a_hypothesis_said_again_is_committed_whole(history, tail):
    """Whatever came before: when the next hypothesis repeats the words still waiting, all of
    them are committed."""
    agree = LocalAgreement()
    for earlier in history:
        agree.insert(earlier)
    waiting = tail[len(agree.insert(tail)) :]
    assert agree.insert(waiting) == waiting
    assert agree.committed[len(agree.committed) - len(tail) :] == tail


def test_partials_are_rate_limited_continue_committed_words_and_grow():
    fake = Scripted()
    stream = SpeakerStream()
    updates = feed(stream, speech(), step=fake)
    partial_calls = [c for c in fake.calls if not c[2]]
    speech_s = 5.3  # sample01's speech, by VAD
    assert len(partial_calls) <= speech_s / 0.5 + 1
    assert all(seconds <= 6.0 for seconds, _, _ in fake.calls)  # utterance + pads, no more
    assert any(prefix for _, prefix, _ in partial_calls)  # committed words are the prefix
    partials = [u.text for u in updates if u.kind == "partial"]
    assert partials and all(b.startswith(a) for a, b in zip(partials, partials[1:], strict=False))
    finals = [u for u in updates if u.kind == "final"]
    assert len(finals) == 1 and finals[0].text.startswith(partials[-1])


def test_a_jump_in_the_timeline_ends_the_utterance():
    stream = SpeakerStream()
    pcm = speech(tail_s=0)
    feed(stream, pcm[: 640 * 100], start=10.0)  # 2 s of speech
    feed(stream, pcm[640 * 102 : 640 * 104], start=12.04)  # one lost frame: filled, goes on
    assert stream.want() != "final"
    feed(stream, pcm[640 * 200 : 640 * 201], start=20.0)  # mic off for 6 s
    assert stream.want() == "final"
    (final,) = stream.step(Scripted())
    assert final.kind == "final" and 10.0 <= final.start < final.end <= 12.1


def test_finals_run_before_partials_and_skipped_partials_are_counted():
    streams = StreamSet()
    fake = Scripted()
    feed_all = [("a", speech()), ("b", speech(tail_s=0)[: 640 * 150])]
    for key, pcm in feed_all:  # the worker fell behind: 6 s and 3 s arrive at once
        for i in range(len(pcm) // 640):
            streams.feed(key, pcm[i * 640 : (i + 1) * 640], i * 0.02)
    order = []
    for _ in range(4):
        updates = streams.run_once(fake)
        order.append((fake.calls[-1][2], [key for key, _ in updates]))
    assert order[0] == (True, ["a"])  # a's final first
    assert order[1][0] is False  # then b's partial, on the newest audio
    assert fake.calls[1][0] >= 3.0
    counters = streams.counters()
    assert counters["a"]["partials_skipped"] >= 8 and counters["a"]["finals"] == 1
    assert counters["a"]["frames_model"] == len(feed_all[0][1]) // 640


def test_a_late_final_falls_back_to_its_committed_text():
    now = [0.0]
    stream = SpeakerStream(StreamPolicy(max_final_lag_s=1.0), clock=lambda: now[0])
    fake = Scripted()
    pcm = speech()
    feed(stream, pcm[: 640 * 200], step=fake)  # 4 s with partials
    committed = [u.text for u in stream.step(fake) if u.kind == "partial"]
    feed(stream, pcm[640 * 200 :], start=4.0)  # the rest arrives, no time to decode
    calls = len(fake.calls)
    now[0] = 5.0
    assert stream.degrade_late_finals(now[0]) == 1
    (final,) = stream.step(fake)
    assert final.kind == "final" and len(fake.calls) == calls  # no model call
    assert final.text and (not committed or final.text.startswith(committed[-1]))


def test_feed_never_blocks_and_counts_what_it_drops(tmp_path):
    """The audio tick feeds the worker: with its queue full, a feed returns at once, dropping the
    frame and counting it. A feed that waited would hang here, so the 500 feeds run on a thread
    given a generous deadline; how fast a feed is, is a figure: bench/realtime_targets.py."""
    worker = CaptionWorker(str(tmp_path / "absent"), max_queued_frames=5)
    worker.start()
    try:
        feeding = threading.Thread(
            target=lambda: [worker.feed((1, 2), b"\0" * 640, i * 0.02) for i in range(500)],
            daemon=True,
        )
        feeding.start()
        feeding.join(10)
        assert not feeding.is_alive(), "a feed waited for the worker"
        row = worker.counters()[(1, 2)]
        assert row["frames_dropped"] > 0
        assert row["frames_fed"] == 500
    finally:
        worker.stop()


def test_a_monologue_without_long_pauses_is_split_at_a_short_one():
    audio = [sf.read(AUDIO / f"sample0{i}.wav", dtype="int16")[0] for i in range(1, 7)]
    short_pause = np.zeros(int(0.25 * 16000), dtype=np.int16)
    pcm = np.concatenate([part for a in audio for part in (a, short_pause)]).tobytes()
    stream = SpeakerStream()
    updates = feed(stream, pcm, step=Scripted())
    stream.end()
    while not stream.idle:
        updates += stream.step(Scripted())
    finals = [u for u in updates if u.kind == "final"]
    assert len(finals) >= 2
    assert all(u.end - u.start <= 15.1 for u in finals)
    assert all(a.end <= b.start for a, b in zip(finals, finals[1:], strict=False))


def test_revoked_consent_discards_the_open_utterance():
    streams = StreamSet()
    fake = Scripted()
    pcm = speech()
    for i in range(150):  # 3 s into a sentence
        streams.feed("a", pcm[i * 640 : (i + 1) * 640], i * 0.02)
    streams.end("a", discard=True)
    assert streams.run_once(fake) == [] and fake.calls == []
    assert "a" not in streams.streams and streams.counters()["a"]["frames_model"] == 150
