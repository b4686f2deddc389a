"""LocalAgreement-2, the commit rule of whisper_streaming (Machacek et al., 2023).

A word is committed once two consecutive hypotheses agree on it (and on every word before it).
Committed words are shown and never change; the rest of the latest hypothesis waits for the next
one. Because the streaming decoder continues the committed text (it is the decoder's prefix),
each hypothesis here is only the tail after the committed words.
"""

from __future__ import annotations

from .engine import normalise_word


class LocalAgreement:
    def __init__(self) -> None:
        self.committed: list[str] = []
        self._previous: list[str] = []

    @property
    def text(self) -> str:
        return " ".join(self.committed)

    def insert(self, tail: list[str]) -> list[str]:
        """Take the next hypothesis (words after the committed ones); return newly committed."""
        n = 0
        while (
            n < len(tail)
            and n < len(self._previous)
            and normalise_word(tail[n]) == normalise_word(self._previous[n])
        ):
            n += 1
        new = tail[:n]
        self.committed.extend(new)
        self._previous = tail[n:]
        return new

    def insert_full(self, hypothesis: list[str]) -> list[str]:
        """Take a hypothesis of the whole utterance (not a continuation): only usable when it
        starts with the committed words."""
        k = len(self.committed)
        head = [normalise_word(w) for w in hypothesis[:k]]
        if head != [normalise_word(w) for w in self.committed]:
            return []
        return self.insert(hypothesis[k:])
