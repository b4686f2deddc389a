"""The fast offline caption harness: the server's StreamSet and SpeakerStream policy, driven by
audio time instead of wall time, so a set's streaming WER costs only the model's own time.

The clock handed to StreamSet (and so to every SpeakerStream) is the audio timeline. Frames are
fed 20 ms at a time; between frames the scheduler runs while it has work, and each model call
occupies the (single) model for `cost(call)` seconds of audio time, during which more frames
arrive, as in real time:
- cost "zero": an infinitely fast model. Finals are what the policy makes of the audio, and
  latencies are the policy's own (how long it waits for silence, for agreement).
- cost "measured": each call costs the wall time it took here (a simulated real-time run at this
  machine's speed, but without sleeping through the audio).
With `partials=False` no partial is decoded: in "zero" mode the finals are then the same (a final
never depends on partials unless it is degraded, which a zero-cost model never causes), at a
fraction of the calls. That is the mode for tuning WER.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from faster_whisper.vad import VadOptions, get_speech_timestamps

from spaces.captions import CaptionUpdate, StreamPolicy, StreamSet
from spaces.captions.streaming import Transcribe
from testkit.audio import FRAME_BYTES, FRAME_SECONDS, SAMPLE_RATE

GAP_S = 1.0  # silence after each clip in a program


@dataclass
class Clip:
    name: str
    audio: np.ndarray  # int16
    text: str
    utterances: list[tuple[float, float]]  # source VAD, seconds


def load_clips(folder: Path) -> list[Clip]:
    """Every `*.wav` with its `*.txt`; its utterances by Silero VAD (500 ms silence ends one)."""
    options = VadOptions(min_silence_duration_ms=500, speech_pad_ms=0, min_speech_duration_ms=250)
    clips = []
    for wav in sorted(folder.glob("*.wav")):
        audio, rate = sf.read(wav, dtype="int16")
        assert rate == SAMPLE_RATE and audio.ndim == 1, wav
        spans = get_speech_timestamps(audio.astype(np.float32) / 32768, options)
        utterances = [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in spans]
        clips.append(Clip(wav.stem, audio, wav.with_suffix(".txt").read_text(), utterances))
    return clips


@dataclass
class Program:
    """What one simulated speaker says: clips back to back, each followed by GAP_S of silence."""

    clips: list[Clip]
    delay_s: float = 0.0
    pcm: bytes = b""
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # clip, start, end
    utterances: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts, t = [], 0.0
        for clip in self.clips:
            parts += [clip.audio, np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.int16)]
            self.spans.append((clip.name, t, t + len(clip.audio) / SAMPLE_RATE))
            self.utterances += [(t + a, t + b) for a, b in clip.utterances]
            t += len(clip.audio) / SAMPLE_RATE + GAP_S
        self.pcm = np.concatenate(parts).tobytes() if parts else b""


def programs_for(clips: list[Clip]) -> list[list[Program]]:
    """Runs to replay: every solo clip on one stream; then each overlap pair (`X-a`, `X-b`) as
    two streams at once."""
    solo = [c for c in clips if not c.name.endswith(("-a", "-b"))]
    pairs = sorted({c.name[:-2] for c in clips if c.name.endswith(("-a", "-b"))})
    runs = [[Program(solo)]] if solo else []
    for pair in pairs:
        runs.append([Program([c]) for c in clips if c.name in (f"{pair}-a", f"{pair}-b")])
    return runs


def replay(
    programs: list[Program],
    transcribe: Transcribe,
    policy: StreamPolicy,
    *,
    cost: str = "zero",
    partials: bool = True,
) -> list[list[tuple[float, CaptionUpdate]]]:
    """Play the programs at once on audio time; per program, (arrival time, update)."""
    if not partials:
        policy = replace(policy, first_partial_every_s=1e9, partial_every_s=1e9)
    now = 0.0
    streams = StreamSet(policy, clock=lambda: now)
    starts = [round(p.delay_s / FRAME_SECONDS) for p in programs]
    lengths = [len(p.pcm) // FRAME_BYTES for p in programs]
    arrivals: list[list[tuple[float, CaptionUpdate]]] = [[] for _ in programs]
    busy_until = 0.0
    last = max(s + n for s, n in zip(starts, lengths, strict=True))
    tick = 0
    while tick <= last or streams.has_work():
        if tick <= last:
            for j, program in enumerate(programs):
                f = tick - starts[j]
                if 0 <= f < lengths[j]:
                    frame = program.pcm[f * FRAME_BYTES : (f + 1) * FRAME_BYTES]
                    streams.feed(j, frame, f * FRAME_SECONDS)
                elif f == lengths[j]:
                    streams.end(j)
        now = (tick + 1) * FRAME_SECONDS  # the frame has fully arrived
        while now >= busy_until and streams.has_work():
            started = time.perf_counter()
            updates = streams.run_once(transcribe)
            spent = time.perf_counter() - started if cost == "measured" else 0.0
            busy_until = now + spent
            for key, update in updates:
                arrivals[key].append((busy_until, update))
            if spent:
                break  # more audio arrives while the model was busy
        tick += 1
        if tick > last + 100_000:
            raise RuntimeError("replay does not converge")
    return arrivals


def score(programs: list[Program], arrivals: list[list[tuple[float, CaptionUpdate]]]) -> dict:
    """Per clip the final text; per utterance the final and first-text latencies (audio time)."""
    hyps: dict[str, str] = {}
    final_lat, first_lat, missing = [], [], 0
    for program, got in zip(programs, arrivals, strict=True):
        finals = [(a, u) for a, u in got if u.kind == "final"]
        for s, e in program.utterances:
            covering = [(a, u) for a, u in finals if u.start < e and u.end > s]
            if not covering:
                missing += 1
                continue
            final_lat.append(max(a for a, _ in covering) - e - program.delay_s)
            texts = [a for a, u in got if u.start < e and u.end > s and u.text]
            first = min(texts) if texts else max(a for a, _ in covering)
            first_lat.append(first - s - program.delay_s)
        for name, s, e in program.spans:
            hyps[name] = " ".join(u.text for _, u in finals if s <= (u.start + u.end) / 2 < e)
    return {
        "hyps": hyps,
        "final_lat": final_lat,
        "first_lat": first_lat,
        "missing": missing,
        "utterances": sum(len(p.utterances) for p in programs),
    }


def offline(model, clips: list[Clip], beam: int) -> dict[str, str]:
    """faster-whisper's `transcribe()` of each whole clip: what streaming is measured against."""
    hyps = {}
    for clip in clips:
        segments, _ = model.transcribe(clip.audio.astype(np.float32) / 32768, beam_size=beam)
        hyps[clip.name] = " ".join(s.text.strip() for s in segments)
    return hyps
