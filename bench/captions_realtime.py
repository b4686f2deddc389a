"""The caption benchmark's real-time pass (`bench/captions.py --realtime`): the server's own
CaptionWorker process fed 20 ms frames at real-time pace, for latencies and concurrent speakers.
Needs a quiet machine: a busy one turns model time into latency."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from bench.captions_replay import GAP_S, Clip, Program
from spaces.captions import CaptionWorker
from testkit.audio import FRAME_BYTES, FRAME_SECONDS, SAMPLE_RATE

P95_BOUND_S = 2.0


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
    time.sleep(0.5)  # the worker reports its counters every 0.2 s
    counters = worker.counters()
    rows = [counters.get(k, {}) for k in keys]
    return {
        "refs": refs,
        "hyps": hyps,
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
        f"K={k} (load {load:.1f}): final_p50={r['final_p50']:.2f}s "
        f"final_p95={r['final_p95']:.2f}s "
        f"partial_p50={r['partial_p50']:.2f}s finals_missing={r['missing']}/{r['utterances']} "
        f"degraded={r['degraded']} frames_dropped={r['dropped']} frames_to_model="
        f"{r['reached']}/{r['fed']} model_calls={r['calls']} model_busy={r['model_s']:.0f}s "
        f"partials_skipped={r['skipped']}"
    )


def realtime(server: dict, args, clips: list[Clip]) -> dict:
    """Single speaker for the latencies, then K = 2, 4, ... speakers at once."""
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
    return {
        "final_p50": single["final_p50"],
        "final_p95": single["final_p95"],
        "partial_p50": single["partial_p50"],
        "k": best,
    }
