"""The guard against repeated and looping caption text.

Two ways Whisper says a phrase twice that the speaker said once:
- at a cut: a final decodes the previous utterance's audio as context (its text is the decoder
  prefix), and the model may still write the end of that utterance again at the start of the
  new one; so may a split monologue, cut at a short pause;
- in a loop: on padded or noisy windows it repeats a phrase ("and then we and then we and then").
`new_words(previous, text)` drops the first kind, `unloop(text)` collapses the second.
"""

from __future__ import annotations

from .engine import normalise_word

MIN_OVERLAP = 2  # one shared word at a cut is usually real ("... the. The ...")


def new_words(previous: str, text: str, *, window: int = 12) -> str:
    """`text` without its opening words when they repeat the last words of `previous`."""
    before = [normalise_word(w) for w in previous.split()][-window:]
    words = text.split()
    after = [normalise_word(w) for w in words[:window]]
    for k in range(min(len(before), len(after)), MIN_OVERLAP - 1, -1):
        if before[-k:] == after[:k]:
            return " ".join(words[k:])
    return text


def unloop(text: str) -> str:
    """Collapse a phrase repeated back to back: three words or more said twice in a row, or
    one or two words said three times or more, stay once."""
    words = text.split()
    norm = [normalise_word(w) for w in words]
    i = 0
    out: list[str] = []
    while i < len(words):
        skip = 0
        for n in range(min(12, (len(words) - i) // 2), 0, -1):
            phrase = norm[i : i + n]
            reps = 1
            while norm[i + reps * n : i + (reps + 1) * n] == phrase:
                reps += 1
            if reps >= 2 and (n >= 3 or reps >= 3) and any(phrase):
                skip = (reps - 1) * n
                break
        if skip:
            i += skip  # keep the last repetition: its punctuation ends the phrase
            continue
        out.append(words[i])
        i += 1
    return " ".join(out)
