"""The guard against repeated or looping caption text: a caption never repeats a phrase the
speaker said once."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spaces.captions import SpeakerStream
from spaces.captions.repeats import new_words, unloop


@pytest.mark.parametrize(
    ("previous", "text", "kept"),
    [
        (
            "We raised money for the library.",
            "for the library. And then we left.",
            "And then we left.",
        ),
        ("see you on Sunday", "on Sunday morning at nine", "morning at nine"),
        ("It is the end.", "The next one starts soon.", "The next one starts soon."),
        ("thanks for having me", "Thanks for having me, it is great.", "it is great."),
        ("", "Hello there.", "Hello there."),
        ("one two", "three four", "three four"),
    ],
)
def test_a_new_final_does_not_repeat_the_end_of_the_last(previous, text, kept):
    assert new_words(previous, text) == kept


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("and then we and then we and then we went home", "and then we went home"),
        ("the the the show", "the show"),
        ("I know, I know, I know.", "I know."),
        ("very very good", "very very good"),
        ("no no", "no no"),
        ("we went to the market, we went to the market", "we went to the market"),
        ("Maria said that Maria was late", "Maria said that Maria was late"),
        ("", ""),
    ],
)
def test_a_looping_phrase_is_shown_once(text, kept):
    assert unloop(text) == kept


def test_a_phrase_said_once_is_never_shown_twice():
    said = "the meeting in Lisbon starts at five in the evening"
    looped = " ".join([said] * 4)
    assert unloop(looped) == said
    assert new_words(said, said + " and ends at nine") == "and ends at nine"


AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"


def two_sentences() -> bytes:
    """sample01 and sample03 with 1 s of silence after each: two utterances, two finals."""
    silence = np.zeros(16000, dtype=np.int16)
    parts = [sf.read(AUDIO / f"{n}.wav", dtype="int16")[0] for n in ("sample01", "sample03")]
    return np.concatenate([parts[0], silence, parts[1], silence]).tobytes()


class Stuttering:
    """A model that misbehaves the ways Whisper does at cuts: each final starts with the end of
    the sentence before it and loops its own last words; partials say nothing. The second
    sentence is the one decoded with the first as context."""

    SAID = [
        "we counted forty two bicycles on the bridge this morning",
        "the meeting in Lisbon starts at seven in the evening",
    ]

    def __call__(self, audio, *, prefix: str = "", final: bool = False, prompt: str = "") -> str:
        if not final:
            return ""
        i = 1 if "bridge" in prefix + prompt else 0
        said = self.SAID[i]
        before = " ".join(self.SAID[i - 1].split()[-3:]) if i else ""
        loop = " ".join(said.split()[-3:])
        return f"{before} {said} {loop} {loop}".strip()


def test_captions_never_repeat_a_phrase_the_speaker_said_once():
    pcm = two_sentences()
    stream, model, updates = SpeakerStream(), Stuttering(), []
    for i in range(len(pcm) // 640):
        stream.feed(pcm[i * 640 : (i + 1) * 640], i * 0.02)
        updates += stream.step(model)
    stream.end()
    while not stream.idle:
        updates += stream.step(model)
    finals = [u.text for u in updates if u.kind == "final"]
    assert finals == [
        "we counted 42 bicycles on the bridge this morning",
        "the meeting in Lisbon starts at seven in the evening",
    ]
