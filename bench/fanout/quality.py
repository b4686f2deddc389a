"""Does a listener still understand the speech? One speaker and one listener per format on a real
server, both Spaces at once: the speaker streams the WAVs of ../shared/audio (a second of silence
between them), the listener keeps what it received (v2 decoded from Opus), and the bundled caption
model transcribes both. WER against the reference texts, all files as one text."""

import re
import time

import jiwer
import numpy as np

from spaces.captions.engine import load_model
from testkit.audio import SHARED_AUDIO, SILENCE, speech
from testkit.listen import Ear
from testkit.opus_wire import V2_QUERY, OpusWire
from testkit.server import LiveServer
from testkit.speak import Mouth
from testkit.waiting import wait_until

QUICK = ["jfk", "sample01", "sample02", "sample03"]


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def received_speech(server: LiveServer, people: dict, stems: list[str]) -> dict[str, bytes]:
    """What a v1 and a v2 listener received while the speech played, as PCM."""
    frames = [f for stem in stems for f in speech(stem) + [SILENCE] * 50]
    ears, mouths = {}, []
    for codec in ("pcm", "opus"):
        host, listener = people[codec]
        space = host.open_space(f"Quality {codec}")
        room = f"/spaces/{space}"
        host.get(room)
        host.act(room + "/mic", {"on": "1"})
        listener.join(space)
        query = "?" + V2_QUERY if codec == "opus" else ""
        wire = (lambda: OpusWire()) if codec == "opus" else (lambda: None)
        ears[codec] = Ear(listener.websocket(room + "/audio" + query), wire=wire())
        mouths.append(Mouth(host.websocket(room + "/audio" + query), frames, wire=wire()))
    started = time.monotonic()
    try:
        wait_until(lambda: min(m.sent for m in mouths) >= len(frames), len(frames) / 25, 0.5)
        time.sleep(1.0)  # the tail through the jitter buffers
    finally:
        for part in [*mouths, *ears.values()]:
            part.stop()
    return {codec: b"".join(ear.since(started)) for codec, ear in ears.items()}


def word_error_rates(tmp, quick: bool) -> dict[str, float]:
    """{"pcm": WER, "opus": WER} for what the listeners received."""
    stems = QUICK if quick else sorted(p.stem for p in SHARED_AUDIO.glob("*.wav"))
    server = LiveServer(tmp / "quality")
    people = {c: server.people([f"q{c}host", f"q{c}ear"]) for c in ("pcm", "opus")}
    server.start()
    try:
        heard = received_speech(server, people, stems)
    finally:
        server.stop()
    reference = normalise(" ".join((SHARED_AUDIO / f"{s}.txt").read_text() for s in stems))
    model = load_model(None, cpu_threads=2)
    rates = {}
    for codec, pcm in heard.items():
        audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        segments, _ = model.transcribe(audio, language="en", beam_size=5)
        rates[codec] = jiwer.wer(reference, normalise(" ".join(s.text for s in segments)))
    return rates
