"""The caption evaluation set, generated reproducibly with espeak-ng (nothing is committed).

    PYTHONPATH=. python bench/caption_set.py [--out data/caption-set] [--tiny]

Two parts, each a folder of `*.wav` (16 kHz mono int16) + `*.txt` (the words said) pairs:
- tuning/: the policy may be tuned on it (also gets ../shared/audio by the benchmark).
- heldout/: other voices (other accents and variants), other sentence templates, names and places
  (bench/caption_texts.py). Never tune on it; report on it.
Kinds of clip in both (about 10 minutes a part): `plain` (sentences with natural pauses),
`monologue` (45-60 s with no pause longer than 0.3 s: sentences joined with 40-120 ms gaps),
`fast` (260-330 words a minute), `numbers` (sentences with numbers and names), `noise20` /
`noise10` (pink or brown noise mixed at 20 and 10 dB SNR over the speech), and `overlap`
(`overlapNN-a` and `-b`: two people talking over each other, one stream each, with the other's
voice leaking into each mic at -25 dB). `MANIFEST.tsv` says voice, rate, pitch and longest pause.
Same espeak-ng and sox versions, same files: every choice comes from a seeded RNG.
"""

from __future__ import annotations

import argparse
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.caption_texts import HELDOUT, TUNING, Bank, sentences

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "data" / "caption-set"
SR = 16_000
VERSION = "2"  # bump when the recipe changes; the benchmark regenerates on a mismatch


@dataclass(frozen=True)
class Part:
    name: str
    bank: Bank
    seed: int
    voices: tuple[str, ...]
    variants: tuple[str, ...]


PARTS = (
    Part(
        "tuning",
        TUNING,
        seed=1,
        voices=("en-us", "en-gb", "en-gb-x-gbclan"),
        variants=("m1", "m3", "f2", "f4", "m7", "Alex", "Andy", "steph", "robert"),
    ),
    Part(
        "heldout",
        HELDOUT,
        seed=2,
        voices=("en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbcwmd"),
        variants=("m2", "m4", "f1", "f3", "f5", "m6", "Annie", "Mike", "paul", "max"),
    ),
)
# (kind, clips per part, sentences per clip, gap range s, rate range wpm)
RECIPE = (
    ("plain", 7, 5, (0.35, 0.9), (150, 190)),
    ("monologue", 5, 17, (0.04, 0.12), (165, 200)),
    ("fast", 4, 6, (0.25, 0.6), (260, 330)),
    ("numbers", 4, 5, (0.35, 0.8), (150, 185)),
    ("noise20", 3, 5, (0.35, 0.8), (150, 190)),
    ("noise10", 3, 5, (0.35, 0.8), (150, 190)),
)
OVERLAPS = 2  # pairs per part, 8 sentences per speaker
TINY_RECIPE = (
    ("plain", 1, 2, (0.5, 0.7), (170, 170)),
    ("monologue", 1, 4, (0.05, 0.1), (180, 180)),
)


def speak(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    """espeak-ng at 22.05 kHz, resampled by sox to 16 kHz int16, silence trimmed off both ends."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    raw = subprocess.run(
        ["sox", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SR), "-e", "signed", "-b", "16"]
        + ["-c", "1", "-"],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    x = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[max(0, loud[0] - 160) : loud[-1] + 160] if len(loud) else x


def longest_pause(x: np.ndarray) -> float:
    """Longest run of 10 ms frames quieter than -45 dBFS, in seconds."""
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    quiet = np.sqrt(np.mean(frames**2, axis=1)) < 10 ** (-45 / 20)
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best / 100


def noise(rng: np.random.Generator, n: int, colour: str) -> np.ndarray:
    """Pink (1/f) or brown (1/f^2) noise, unit RMS, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    spectrum /= f ** (0.5 if colour == "pink" else 1.0)
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x**2))


def mix_snr(speech: np.ndarray, rng: np.random.Generator, snr_db: float, colour: str) -> np.ndarray:
    """Noise over the whole clip at `snr_db` below the speech's power (measured where it speaks)."""
    active = speech[np.abs(speech) > 0.01]
    power = float(np.mean(active**2)) if len(active) else 1e-4
    return speech + noise(rng, len(speech), colour) * np.sqrt(power / 10 ** (snr_db / 10))


def join(parts: list[np.ndarray], gaps: list[float]) -> np.ndarray:
    out = [parts[0]]
    for part, gap in zip(parts[1:], gaps, strict=True):
        out += [np.zeros(int(gap * SR), dtype=np.float32), part]
    return np.concatenate(out)


def write(folder: Path, name: str, audio: np.ndarray, text: str) -> None:
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = audio * min(1.0, 0.95 / peak)
    sf.write(folder / f"{name}.wav", (audio * 32767).astype(np.int16), SR, subtype="PCM_16")
    (folder / f"{name}.txt").write_text(text + "\n")


def generate_part(part: Part, folder: Path, tiny: bool = False) -> list[str]:
    rng = random.Random(part.seed)
    nrng = np.random.default_rng(part.seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind, count, per_clip, gap_range, rate_range in TINY_RECIPE if tiny else RECIPE:
        for i in range(count):
            voice = f"{rng.choice(part.voices)}+{rng.choice(part.variants)}"
            rate, pitch = rng.randint(*rate_range), rng.randint(25, 75)
            texts = sentences(part.bank, rng, per_clip, numbers=kind == "numbers")
            audio = [speak(t, voice, rate, pitch) for t in texts]
            x = join(audio, [rng.uniform(*gap_range) for _ in texts[1:]])
            x = x * rng.uniform(0.3, 1.0)  # quiet and loud microphones
            if kind.startswith("noise"):
                x = mix_snr(x, nrng, float(kind[5:]), rng.choice(("pink", "brown")))
            name = f"{kind}{i + 1:02d}"
            pause = longest_pause(x) if not kind.startswith("noise") else float("nan")
            write(folder, name, x, " ".join(texts))
            rows.append(f"{name}\t{kind}\t{voice}\t{rate}\t{pitch}\t{len(x) / SR:.1f}\t{pause:.2f}")
    for i in range(0 if tiny else OVERLAPS):
        voices = [f"{rng.choice(part.voices)}+{v}" for v in rng.sample(part.variants, 2)]
        rates = [rng.randint(160, 200) for _ in voices]
        takes = []
        for voice, rate in zip(voices, rates, strict=True):
            texts = sentences(part.bank, rng, 8)
            audio = [speak(t, voice, rate, 50) for t in texts]
            takes.append((join(audio, [rng.uniform(0.4, 1.2) for _ in texts[1:]]), texts))
        n = max(len(a) for a, _ in takes) + SR
        lead = int(rng.uniform(0.5, 2.0) * SR)  # b starts a little later and talks over a
        tracks = [np.zeros(n, dtype=np.float32) for _ in takes]
        tracks[0][: len(takes[0][0])] += takes[0][0]
        tracks[1][lead : lead + len(takes[1][0])] += takes[1][0][: n - lead]
        bleed = 10 ** (-25 / 20)
        for j, side in enumerate("ab"):
            mic = tracks[j] + bleed * tracks[1 - j]
            name = f"overlap{i + 1:02d}-{side}"
            write(folder, name, mic, " ".join(takes[j][1]))
            rows.append(f"{name}\toverlap\t{voices[j]}\t{rates[j]}\t50\t{n / SR:.1f}\tnan")
    return rows


def generate(out: Path = DEFAULT_OUT, tiny: bool = False) -> Path:
    """Build the set under `out` (tuning/ and heldout/) unless this recipe's copy is there."""
    stamp = out / "VERSION"
    want = f"{VERSION}{'-tiny' if tiny else ''}\n"
    if stamp.is_file() and stamp.read_text() == want:
        return out
    for part in PARTS:
        folder = out / part.name
        for old in folder.glob("*.*"):
            old.unlink()
        rows = generate_part(part, folder, tiny)
        header = "name\tkind\tvoice\trate_wpm\tpitch\tseconds\tlongest_pause_s\n"
        (folder / "MANIFEST.tsv").write_text(header + "\n".join(rows) + "\n")
    (out / "README.md").write_text(README)
    stamp.write_text(want)
    return out


README = """# Caption evaluation set (generated)

Made by `bench/caption_set.py` from sentence templates (bench/caption_texts.py, this project's
own text) spoken by espeak-ng (GPL-3.0-or-later; the audio it produces is not covered by its
licence) and resampled by sox. Noise is made with numpy. No recordings are downloaded.
Real recordings with transcripts: none ship in the PyPI, npm or Debian packages installed here
(checked: pocketsphinx's wheel has no test audio; Python's test WAVs are plucks, not speech). The
benchmark adds ../shared/audio (jfk.wav: a US government recording, public domain; the other
files as shipped in shared/) to the tuning part.

tuning/ may be used to tune the streaming policy; heldout/ must not be. See MANIFEST.tsv.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tiny", action="store_true", help="two clips a part, for the tests")
    args = parser.parse_args()
    out = generate(args.out, args.tiny)
    for part in PARTS:
        wavs = sorted((out / part.name).glob("*.wav"))
        seconds = sum(sf.info(w).duration for w in wavs)
        print(f"{part.name}: {len(wavs)} files, {seconds / 60:.1f} min in {out / part.name}")


if __name__ == "__main__":
    main()
