"""Caption benchmark: the server's own pipeline (CaptionWorker -> StreamSet -> SpeakerStream), fed
in real time with the WAVs of ../shared/audio, 20 ms frames, sleeping to keep pace.

Measures
- wer: the finals against the .txt transcripts (corpus WER over the files, jiwer). offline_wer: one
  faster-whisper `transcribe()` per file, same model, compute type, threads and beam size.
  Normalisation for both: lowercase; every character that is not a letter, digit or apostrophe
  becomes a space; whitespace collapsed. Numbers are not spelled out ("10" vs "ten" is an error).
- final latency: from each utterance's end (Silero VAD on the source file, 500 ms silence, no
  padding) to the arrival of the final caption covering it; p50 and p95 over all utterances.
- partial latency: from each utterance's onset (same VAD) to its first caption text (the first
  partial, or the final when it came first); p50.
- concurrent speakers: K streams at once (staggered, each playing the files in a different order),
  K = 2, 4, 6, ...; K passes while every utterance gets a model-made final (none missing or
  degraded to its partial text), no frame is dropped, and final p95 <= 2.0 s.
The single-speaker pass gives wer and the latencies. Last line: `captions wer=W offline_wer=O
ratio=R final_p50_s=A final_p95_s=B partial_p50_s=C concurrent_speakers=K`
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field

import jiwer
import numpy as np
import soundfile as sf
from faster_whisper.vad import VadOptions, get_speech_timestamps

from spaces import config
from spaces.captions import CaptionWorker, load_model
from testkit.audio import FRAME_BYTES, FRAME_SECONDS, SAMPLE_RATE, SHARED_AUDIO

GAP_S = 1.0  # silence after each file
P95_BOUND_S = 2.0
SHOW = "--show" in sys.argv


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


def wer(refs: list[str], hyps: list[str]) -> float:
    return jiwer.wer([normalise(r) for r in refs], [normalise(h) or "<empty>" for h in hyps])


@dataclass
class Clip:
    name: str
    audio: np.ndarray  # int16
    text: str
    utterances: list[tuple[float, float]]  # source VAD, seconds


@dataclass
class Program:
    """What one simulated speaker says: clips back to back, each followed by GAP_S of silence."""

    clips: list[Clip]
    delay_s: float
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
        self.pcm = np.concatenate(parts).tobytes()


def load_clips() -> list[Clip]:
    options = VadOptions(min_silence_duration_ms=500, speech_pad_ms=0, min_speech_duration_ms=250)
    clips = []
    for wav in sorted(SHARED_AUDIO.glob("*.wav")):
        audio, rate = sf.read(wav, dtype="int16")
        assert rate == SAMPLE_RATE and audio.ndim == 1, wav
        spans = get_speech_timestamps(audio.astype(np.float32) / 32768, options)
        utterances = [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in spans]
        clips.append(Clip(wav.stem, audio, wav.with_suffix(".txt").read_text(), utterances))
    return clips


def offline_wer(clips: list[Clip], settings: dict, threads: int, beam: int) -> float:
    model = load_model(
        settings["CAPTION_MODEL"] or None,
        device=settings["CAPTION_DEVICE"],
        compute_type=settings["CAPTION_COMPUTE_TYPE"],
        cpu_threads=threads,
    )
    hyps = []
    for clip in clips:
        segments, _ = model.transcribe(clip.audio.astype(np.float32) / 32768, beam_size=beam)
        hyps.append(" ".join(s.text for s in segments))
    return wer([c.text for c in clips], hyps)


def run(worker: CaptionWorker, programs: list[Program], tag: int) -> dict:
    """Play every program at real-time pace; return the captions with their arrival times."""
    keys = [(tag, j) for j in range(len(programs))]
    starts = [round(p.delay_s / FRAME_SECONDS) for p in programs]
    lengths = [len(p.pcm) // FRAME_BYTES for p in programs]
    fed = [np.zeros(n) for n in lengths]
    arrivals: dict = {k: [] for k in keys}
    t0 = time.monotonic()
    last = max(s + n for s, n in zip(starts, lengths, strict=True))
    for tick in range(last + 1):
        for j, program in enumerate(programs):
            f = tick - starts[j]
            if 0 <= f < lengths[j]:
                frame = program.pcm[f * FRAME_BYTES : (f + 1) * FRAME_BYTES]
                worker.feed(keys[j], frame, f * FRAME_SECONDS)
                fed[j][f] = time.monotonic()
            elif f == lengths[j]:
                worker.end_stream(keys[j])
        now = time.monotonic()
        for key, update in worker.poll():
            arrivals[key].append((now, update))
        time.sleep(max(0.0, t0 + (tick + 1) * FRAME_SECONDS - time.monotonic()))
    deadline = time.monotonic() + 15  # then whatever has not come counts as missing
    while time.monotonic() < deadline and not all_covered(programs, keys, arrivals):
        now = time.monotonic()
        for key, update in worker.poll():
            arrivals[key].append((now, update))
        time.sleep(FRAME_SECONDS)
    return score(worker, programs, keys, fed, arrivals)


def all_covered(programs, keys, arrivals) -> bool:
    for program, key in zip(programs, keys, strict=True):
        finals = [u for _, u in arrivals[key] if u.kind == "final"]
        for s, e in program.utterances:
            if not any(u.start < e and u.end > s for u in finals):
                return False
    return True


def score(worker, programs, keys, fed, arrivals) -> dict:
    final_lat, first_lat, refs, hyps, missing = [], [], [], [], 0
    for j, program in enumerate(programs):
        finals = [(a, u) for a, u in arrivals[keys[j]] if u.kind == "final"]
        for s, e in program.utterances:
            covering = [(a, u) for a, u in finals if u.start < e and u.end > s]
            if not covering:
                missing += 1
                continue
            fed_end = fed[j][min(int(e / FRAME_SECONDS), len(fed[j]) - 1)]
            final_lat.append(max(a for a, _ in covering) - fed_end)
            fed_onset = fed[j][int(s / FRAME_SECONDS)]
            texts = [
                a
                for a, u in arrivals[keys[j]]
                if u.start < e and u.end > s and a >= fed_onset and u.text
            ]
            first_lat.append(
                min(texts) - fed_onset if texts else max(a for a, _ in covering) - fed_onset
            )
        for name, s, e in program.spans:
            refs.append(next(c.text for c in program.clips if c.name == name))
            hyps.append(" ".join(u.text for _, u in finals if s <= (u.start + u.end) / 2 < e))
    if SHOW:
        for ref, hyp in zip(refs, hyps, strict=True):
            if normalise(ref) != normalise(hyp):
                print(f"  ref: {normalise(ref)}\n  got: {normalise(hyp)}")
    time.sleep(0.5)  # the worker reports its counters every 0.2 s
    counters = worker.counters()
    rows = [counters.get(k, {}) for k in keys]
    return {
        "wer": wer(refs, hyps),
        "final_p50": float(np.percentile(final_lat, 50)) if final_lat else float("inf"),
        "final_p95": float(np.percentile(final_lat, 95)) if final_lat else float("inf"),
        "partial_p50": float(np.percentile(first_lat, 50)) if first_lat else float("inf"),
        "missing": missing,
        "utterances": sum(len(p.utterances) for p in programs),
        "dropped": sum(r.get("frames_dropped", 0) for r in rows),
        "degraded": sum(r.get("finals_degraded", 0) for r in rows),
        "calls": sum(r.get("model_calls", 0) for r in rows),
        "model_s": sum(r.get("model_ms", 0) for r in rows) / 1000,
        "skipped": sum(r.get("partials_skipped", 0) for r in rows),
        "reached": sum(r.get("frames_model", 0) for r in rows),
        "fed": sum(r.get("frames_fed", 0) for r in rows),
    }


def describe(k: int, r: dict) -> str:
    load = os.getloadavg()[0]
    return (
        f"K={k} (load {load:.1f}): wer={r['wer']:.4f} final_p50={r['final_p50']:.2f}s "
        f"final_p95={r['final_p95']:.2f}s "
        f"partial_p50={r['partial_p50']:.2f}s finals_missing={r['missing']}/{r['utterances']} "
        f"degraded={r['degraded']} frames_dropped={r['dropped']} frames_to_model="
        f"{r['reached']}/{r['fed']} model_calls={r['calls']} model_busy={r['model_s']:.0f}s "
        f"partials_skipped={r['skipped']}"
    )


def main() -> None:
    server = config.defaults()  # the server's own caption settings (environment or defaults)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=server["CAPTION_THREADS"])
    parser.add_argument("--beam", type=int, default=server["CAPTION_BEAM_SIZE"])
    parser.add_argument("--max-k", type=int, default=10)
    parser.add_argument("--show", action="store_true", help="print finals that differ from refs")
    parser.add_argument("--program-s", type=float, default=40.0, help="audio per speaker when K>1")
    args = parser.parse_args()
    clips = load_clips()
    started = time.monotonic()
    offline = offline_wer(clips, server, args.threads, args.beam)
    print(f"offline transcribe(): wer={offline:.4f} ({len(clips)} files)", flush=True)

    worker = CaptionWorker(
        server["CAPTION_MODEL"] or None,
        device=server["CAPTION_DEVICE"],
        compute_type=server["CAPTION_COMPUTE_TYPE"],
        cpu_threads=args.threads,
        beam_size=args.beam,
    )
    worker.start()
    if not worker.wait_ready(60):
        sys.exit(f"caption worker unavailable: {worker.counters()['error']}")
    single = run(worker, [Program(clips, 0.0)], tag=1)
    print(describe(1, single), flush=True)
    best = 1 if single["missing"] == 0 and single["final_p95"] <= P95_BOUND_S else 0
    k = 2
    while best and k <= args.max_k:
        programs = []
        for j in range(k):
            order = clips[j % len(clips) :] + clips[: j % len(clips)]
            chosen, total = [], 0.0
            for clip in order:
                if total >= args.program_s:
                    break
                chosen.append(clip)
                total += len(clip.audio) / SAMPLE_RATE + GAP_S
            programs.append(Program(chosen, delay_s=0.37 * j))
        r = run(worker, programs, tag=k)
        ok = r["missing"] == 0 and r["degraded"] == 0 and r["dropped"] == 0
        ok = ok and r["final_p95"] <= P95_BOUND_S
        print(describe(k, r) + ("" if ok else "  -> beyond the bound"), flush=True)
        if not ok:
            break
        best = k
        k += 2
    worker.stop()
    print(f"(threads={args.threads}, beam={args.beam}, {time.monotonic() - started:.0f} s)")
    ratio = single["wer"] / offline if offline else float("inf")
    print(
        f"captions wer={single['wer']:.4f} offline_wer={offline:.4f} ratio={ratio:.2f} "
        f"final_p50_s={single['final_p50']:.2f} final_p95_s={single['final_p95']:.2f} "
        f"partial_p50_s={single['partial_p50']:.2f} concurrent_speakers={best}"
    )


if __name__ == "__main__":
    main()
