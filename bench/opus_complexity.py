"""What libopus's complexity costs and buys for the room's speech: encode time and WER.

Every WAV of ../shared/audio goes through the product's Opus encoder (spaces/realtime/opus.py) at
each complexity asked, is decoded back with the product's decoder, and the bundled caption model
transcribes it; the word error rate is taken over all files as one text, against the reference
texts and against the original PCM. Encode time is the mean per 20 ms frame on this machine (run
it on a quiet one: under load every figure grows, by up to four times measured).

    python bench/opus_complexity.py [--tiny] [--levels 10,5,3,1]

Last line: `opus_complexity pcm_wer=W c10_wer=.. c10_us=.. c3_wer=.. c3_us=..` (one pair per level).
"""

import argparse

import jiwer
import numpy as np
from fanout.quality import normalise

from spaces.captions.engine import load_model
from testkit.audio import SHARED_AUDIO, speech
from testkit.opus_wire import round_trip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="jfk.wav only")
    parser.add_argument("--levels", default="10,5,3,1", help="comma-separated complexities")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    stems = ["jfk"] if args.tiny else sorted(p.stem for p in SHARED_AUDIO.glob("*.wav"))
    reference = " ".join(normalise((SHARED_AUDIO / f"{s}.txt").read_text()) for s in stems)
    model = load_model(None)

    def wer(pcm_by_file: list[bytes]) -> float:
        heard = []
        for pcm in pcm_by_file:
            audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
            segments, _ = model.transcribe(audio, language="en", beam_size=5)
            heard.append(normalise(" ".join(s.text for s in segments)))
        return jiwer.wer(reference, " ".join(heard))

    originals = [speech(stem) for stem in stems]
    figures = [f"pcm_wer={wer([b''.join(f) for f in originals]):.3f}"]
    print(f"PCM (no codec): WER {figures[0].split('=')[1]}", flush=True)
    for level in levels:
        trips = [round_trip(frames, level) for frames in originals]
        frames_n = sum(len(f) for f in originals)
        mean_us = sum(t[2] for t in trips) / frames_n * 1e6
        kbps = sum(len(p) for t in trips for p in t[1]) * 8 / (frames_n * 0.02) / 1000
        rate = wer([t[0] for t in trips])
        print(
            f"complexity {level:2d}: encode {mean_us:4.0f} us/frame,"
            f" {kbps:.1f} kbit/s, WER {rate:.3f}",
            flush=True,
        )
        figures += [f"c{level}_wer={rate:.3f}", f"c{level}_us={mean_us:.0f}"]
    print("opus_complexity " + " ".join(figures))


if __name__ == "__main__":
    main()
