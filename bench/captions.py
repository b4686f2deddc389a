"""Caption benchmark: the server's own streaming policy (StreamSet -> SpeakerStream) on a tuning
and a held-out part, against offline decoding of the same audio with the same model.

    PYTHONPATH=. python bench/captions.py              # WER both parts (fast harness) + latency
    PYTHONPATH=. python bench/captions.py --realtime   # latency and K in real time (quiet machine)
    PYTHONPATH=. python bench/captions.py --tiny       # the seconds-long version the tests run

Audio: AUDIO/tuning and AUDIO/heldout, folders of `*.wav` + `*.txt` pairs (made by
bench/caption_set.py when missing; point AUDIO at another folder that has those two subfolders).
../shared/audio joins the tuning part. Never tune on the held-out part.

Measures
- wer, heldout_wer: the streaming finals against the transcripts (corpus WER over the files,
  jiwer), computed by the fast harness (bench/captions_replay.py: the same StreamSet and
  SpeakerStream, driven by audio time with a zero-cost model, so the finals are what the policy
  makes of the audio, as fast as the model runs). offline_wer, heldout_offline_wer: one
  faster-whisper `transcribe()` per file, same model, compute type, threads and beam size.
  ratio = wer / offline_wer. Normalisation for both (spaces/captions/numbers.py `spoken_form`):
  lowercase, punctuation dropped, numbers spelled out in words ("40", "forty" -> "forty").
- final latency: from each utterance's end (Silero VAD on the source file, 500 ms silence, no
  padding) to the arrival of the final caption covering it; p50 and p95 over all utterances.
- partial latency: from each utterance's onset (same VAD) to its first caption text; p50.
  Without --realtime both come from the harness with each model call costing the wall time it
  took here (a simulated real-time run, `--latency-s` of tuning audio); with --realtime, from the
  server's CaptionWorker fed in real time, 20 ms frames, sleeping to keep pace.
- concurrent speakers (--realtime only, else 0): K streams at once, K = 2, 4, 6, ...; K passes
  while every utterance gets a model-made final, no frame is dropped, and final p95 <= 2.0 s.
Last line: `captions wer=W offline_wer=O ratio=R heldout_wer=HW heldout_offline_wer=HO
heldout_ratio=HR final_p50_s=A final_p95_s=B partial_p50_s=C concurrent_speakers=K`
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jiwer
import numpy as np

from bench.caption_set import generate
from bench.captions_realtime import realtime
from bench.captions_replay import Clip, Program, load_clips, offline, programs_for, replay, score
from spaces import config
from spaces.captions import StreamPolicy, Transcriber, load_model
from spaces.captions.numbers import spoken_form
from testkit.audio import SHARED_AUDIO

ROOT = Path(__file__).resolve().parent.parent
AUDIO = ROOT / "data" / "caption-set"  # tuning/ and heldout/ subfolders of *.wav + *.txt
TINY_AUDIO = ROOT / "data" / "caption-set-tiny"


def wer(refs: list[str], hyps: list[str]) -> float:
    return jiwer.wer([spoken_form(r) for r in refs], [spoken_form(h) or "<empty>" for h in hyps])


def part_wer(clips: list[Clip], hyps: dict[str, str]) -> float:
    return wer([c.text for c in clips], [hyps.get(c.name, "") for c in clips])


def stream_finals(clips: list[Clip], transcriber: Transcriber, policy: StreamPolicy) -> dict:
    hyps: dict[str, str] = {}
    for programs in programs_for(clips):
        hyps.update(score(programs, replay(programs, transcriber, policy, partials=False))["hyps"])
    return hyps


def latency_clips(clips: list[Clip], seconds: float) -> list[Clip]:
    """About `seconds` of clips, one of each kind in turn (plain, monologue, fast, ...)."""
    kinds: dict[str, list[Clip]] = {}
    for clip in clips:
        kinds.setdefault(clip.name.rstrip("0123456789-ab"), []).append(clip)
    chosen, total, i = [], 0.0, 0
    while total < seconds and any(len(v) > i for v in kinds.values()):
        for group in kinds.values():
            if i < len(group) and total < seconds:
                chosen.append(group[i])
                total += len(group[i].audio) / 16000
        i += 1
    return chosen


def show(label: str, clips: list[Clip], hyps: dict[str, str], other: dict[str, str]) -> None:
    for clip in clips:
        ref, hyp, off = (spoken_form(x) for x in (clip.text, hyps[clip.name], other[clip.name]))
        if hyp != off:
            print(f"[{label} {clip.name}]\n  ref: {ref}\n  str: {hyp}\n  off: {off}")


def main() -> None:
    server = config.defaults()  # the server's own caption settings (environment or defaults)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=server["CAPTION_THREADS"])
    parser.add_argument("--beam", type=int, default=server["CAPTION_BEAM_SIZE"])
    parser.add_argument("--realtime", action="store_true", help="latency and K in real time")
    parser.add_argument("--latency-s", type=float, default=240.0, help="tuning audio timed")
    parser.add_argument("--max-k", type=int, default=10)
    parser.add_argument("--program-s", type=float, default=40.0, help="audio per speaker when K>1")
    parser.add_argument("--tiny", action="store_true", help="a few seconds a part, for the tests")
    parser.add_argument("--part", choices=("both", "tuning", "heldout"), default="both")
    parser.add_argument("--show", action="store_true", help="print where streaming != offline")
    args = parser.parse_args()
    started = time.monotonic()
    root = generate(TINY_AUDIO, tiny=True) if args.tiny else AUDIO
    if not args.tiny and not (root / "heldout").is_dir() and root == AUDIO:
        generate(AUDIO)
    tuning = load_clips(root / "tuning") + ([] if args.tiny else load_clips(SHARED_AUDIO))
    heldout = load_clips(root / "heldout")
    model = load_model(
        server["CAPTION_MODEL"] or None,
        device=server["CAPTION_DEVICE"],
        compute_type=server["CAPTION_COMPUTE_TYPE"],
        cpu_threads=args.threads,
    )
    transcriber = Transcriber(model, beam_size=args.beam)
    policy = StreamPolicy()
    result: dict[str, float] = {}
    parts = [("tuning", tuning), ("heldout", heldout)]
    for label, clips in parts if args.part == "both" else [p for p in parts if p[0] == args.part]:
        minutes = sum(len(c.audio) for c in clips) / 16000 / 60
        streamed = stream_finals(clips, transcriber, policy)
        decoded = offline(model, clips, args.beam)
        w, o = part_wer(clips, streamed), part_wer(clips, decoded)
        result[label], result[f"{label}_offline"] = w, o
        print(
            f"{label}: {len(clips)} files, {minutes:.1f} min: streaming wer={w:.4f} "
            f"offline wer={o:.4f} ratio={w / o if o else float('inf'):.2f}",
            flush=True,
        )
        if args.show:
            show(label, clips, streamed, decoded)
    if args.realtime:
        lat = realtime(server, args, [*latency_clips(tuning, args.latency_s)])
    else:
        chosen = latency_clips(tuning, 20.0 if args.tiny else args.latency_s)
        program = Program(chosen)
        got = score([program], replay([program], transcriber, policy, cost="measured"))
        lat = {
            "final_p50": pct(got["final_lat"], 50),
            "final_p95": pct(got["final_lat"], 95),
            "partial_p50": pct(got["first_lat"], 50),
            "k": 0,
        }
        print(
            f"simulated real time ({len(chosen)} tuning files, model cost as measured here): "
            f"final_p50={lat['final_p50']:.2f}s final_p95={lat['final_p95']:.2f}s "
            f"partial_p50={lat['partial_p50']:.2f}s finals_missing={got['missing']}/"
            f"{got['utterances']}"
        )
    print(f"(threads={args.threads}, beam={args.beam}, {time.monotonic() - started:.0f} s)")
    w, o = result.get("tuning", float("nan")), result.get("tuning_offline", float("nan"))
    hw, ho = result.get("heldout", float("nan")), result.get("heldout_offline", float("nan"))
    print(
        f"captions wer={w:.4f} offline_wer={o:.4f} ratio={ratio(w, o):.2f} "
        f"heldout_wer={hw:.4f} heldout_offline_wer={ho:.4f} heldout_ratio={ratio(hw, ho):.2f} "
        f"final_p50_s={lat['final_p50']:.2f} final_p95_s={lat['final_p95']:.2f} "
        f"partial_p50_s={lat['partial_p50']:.2f} concurrent_speakers={lat['k']}"
    )
    sys.stdout.flush()


def ratio(a: float, b: float) -> float:
    return a / b if b else (1.0 if a == 0 else float("inf"))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("inf")


if __name__ == "__main__":
    main()
