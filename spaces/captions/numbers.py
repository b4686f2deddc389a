"""Numbers in captions, written as people write them, and compared as people hear them.

Whisper writes a number sometimes in digits ("40") and sometimes in words ("forty"), and a
transcript may do either. Two functions make that consistent:
- `show_numbers(text)`: what a caption shows. Newspaper style: zero to nine as words, 10 and up
  in digits ("forty two people" -> "42 people", "7 days" -> "seven days", "nineteen eighty four"
  -> "1984"). A lone "one" stays a word ("no one", "the one").
- `spoken_form(text)`: how WER compares text: lowercase, punctuation gone, and every number
  spelled out in words without "and" ("1,250" and "one thousand two hundred and fifty" both
  become "one thousand two hundred fifty"; "17%" -> "seventeen percent"; "$5" -> "five
  dollars"). It runs `show_numbers` first, so a number in words and the same number in digits end
  up the same words.
"""

from __future__ import annotations

import re

UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
ORDINALS = {
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
}
_VALUE = {w: i for i, w in enumerate(UNITS)} | {w: 10 * i for i, w in enumerate(TENS) if i > 1}
_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$")
_DIGITS = re.compile(r"^\d+$")


def spell(n: int) -> str:
    """A non-negative integer in words, without "and": 1250 -> "one thousand two hundred fifty"."""
    if n < 20:
        return UNITS[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + UNITS[n % 10])
    if n < 1000:
        rest = n % 100
        return UNITS[n // 100] + " hundred" + ("" if rest == 0 else " " + spell(rest))
    for word, scale in reversed(SCALES.items()):
        if scale >= 1000 and n >= scale:
            rest = n % scale
            return spell(n // scale) + " " + word + ("" if rest == 0 else " " + spell(rest))
    raise AssertionError(n)


def _parse(tokens: list[str]) -> list[tuple[int, int, int]]:
    """Number words (lowercase, no punctuation) -> (first, last + 1, value) for each number, read
    greedily: "one hundred and five" is one number, "one two three" three, "twenty twenty" two."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(tokens):
        total, group, last, j = 0, 0, "", i
        while j < len(tokens):
            w = tokens[j]
            v = _VALUE.get(w)
            if w == "and":
                ok = last in ("hundred", "thousand", "million", "billion") and (
                    j + 1 < len(tokens) and tokens[j + 1] in _VALUE
                )
                if not ok:
                    break
                j += 1
                continue
            if v is not None:
                if last == "":
                    group = v
                elif last == "tens" and 0 < v < 10 or last in SCALES and group % 100 == 0 and v > 0:
                    group += v
                else:
                    break
                last = "tens" if v >= 20 and v % 10 == 0 else "unit"
            elif w == "hundred" and last in ("unit", "tens") and 0 < group < 100:
                group *= 100
                last = w
            elif w in SCALES and w != "hundred" and last != "" and (total + group) > 0:
                scale = SCALES[w]
                if total and total % (scale * 1000) != 0:
                    break  # "two million three thousand": a smaller scale must come later
                total += group * scale
                group, last = 0, w
            else:
                break
            j += 1
        if j == i:  # not a number word at all ("and" alone)
            i += 1
            continue
        out.append((i, j, total + group))
        i = j
    return _years(out, tokens)


def _years(numbers: list[tuple[int, int, int]], tokens: list[str]) -> list[tuple[int, int, int]]:
    """ "nineteen eighty four" reads as 19 and 84: one year, 1984."""
    out: list[tuple[int, int, int]] = []
    for a, b, v in numbers:
        if out:
            pa, pb, pv = out[-1]
            if pb == a and 10 <= pv <= 99 and 10 <= v <= 99 and tokens[pa] != "ten":
                out[-1] = (pa, b, pv * 100 + v)
                continue
        out.append((a, b, v))
    return out


def _split(word: str) -> tuple[str, str, str]:
    m = _EDGE.match(word)
    assert m is not None
    return m.group(1), m.group(2), m.group(3)


def show_numbers(text: str) -> str:
    """Numbers as captions show them: 10 and up in digits, below 10 in words."""
    out: list[str] = []
    run: list[tuple[str, str, str]] = []  # (lead, core, trail) of consecutive number words

    def flush(next_core: str) -> None:
        cores = [core.lower() for _, core, _ in run]
        pos = 0
        for a, b, value in _parse(cores):
            out.extend(_join(run[pos:a]))
            if value < 10 or (next_core in ORDINALS and b == len(run)):
                out.extend(_join(run[a:b]))  # small numbers, and "twenty first", stay words
            else:
                digits = f"{value:,}" if value >= 10_000 else str(value)
                out.append(run[a][0] + digits + run[b - 1][2])
            pos = b
        out.extend(_join(run[pos:]))
        run.clear()

    for word in text.split():
        parts = [_split(p) for p in _hyphen_parts(word)]
        for lead, core, trail in parts:
            low = core.lower()
            if _DIGITS.match(low) and int(low) < 10:
                flush(low)
                out.append(lead + UNITS[int(low)] + trail)
                continue
            if low in _VALUE or low in SCALES or low == "and":
                run.append((lead, core, trail))
                if trail or lead:  # punctuation ends a number ("ten, twenty")
                    flush("")
                continue
            flush(low)
            out.append(lead + core + trail)
    flush("")
    return _rejoin(out)


def unsettled_tail(words: list[str]) -> int:
    """How many of the last words are number words that the next word may still change (a
    partial caption holds them back)."""
    n = 0
    for word in reversed(words):
        parts = [_split(p)[1].lower() for p in _hyphen_parts(word)]
        if _split(word)[2] or not all(p in _VALUE or p in SCALES or p == "and" for p in parts):
            break
        n += 1
    return n


def _hyphen_parts(word: str) -> list[str]:
    """ "forty-two" is two number words; "well-known" stays one word."""
    parts = word.split("-")
    if len(parts) > 1 and all(_split(p)[1].lower() in _VALUE for p in parts):
        return parts
    return [word]


def _join(run: list[tuple[str, str, str]]) -> list[str]:
    return [lead + core + trail for lead, core, trail in run]


def _rejoin(words: list[str]) -> str:
    return " ".join(w for w in words if w)


_MONEY = re.compile(r"\$(\d[\d,]*(?:\.\d+)?)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PERCENT = re.compile(r"(\d)\s*%")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w']+")


def spoken_form(text: str) -> str:
    """Text as compared for WER: lowercase words, numbers spelled out (see the module doc)."""
    text = _THOUSANDS.sub("", text)
    text = _MONEY.sub(r"\1 dollars", text)
    text = _PERCENT.sub(r"\1 percent", text)
    text = _DECIMAL.sub(lambda m: f"{m.group(1)} point {' '.join(m.group(2))}", text)
    text = _ORDINAL.sub(lambda m: _ordinal(int(m.group(1))), text)
    text = show_numbers(_NOT_WORD.sub(" ", text.replace("-", " ")).lower())
    text = _NUMBER.sub(lambda m: " " + spell(int(m.group())) + " ", text)
    return " ".join(text.split())


def _ordinal(n: int) -> str:
    words = spell(n).split()
    last = words[-1]
    irregular = {"one": "first", "two": "second", "three": "third", "five": "fifth"}
    irregular |= {"eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
    if last in irregular:
        words[-1] = irregular[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)
