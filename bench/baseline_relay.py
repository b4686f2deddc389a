"""A minimal asyncio `websockets` relay doing the product's mixing, as the benchmark's yardstick.

It has none of the product's checks (no accounts, origin, roles, rate limits, recording): one
websocket per participant, `/audio?speaker=<n>` for a speaker (frames kept), anything else a
listener. Every 20 ms it runs the product's own mixer (spaces/realtime/mixer.py: per-speaker jitter
buffers from spaces/realtime/jitter.py, trimming included, int32 sum and clamp, mix-minus),
`websockets.broadcast`s the mix to the listeners, sends each speaker their mix-minus, and every
100 ms broadcasts the same levels message as the product.

With `--codec opus` everyone speaks protocol v2 as the product does (the same codec and
packetization, so the benchmark's ratio compares like with like): speakers' packets decoded with
the product's Opus wrapper, the mix encoded once per tick and broadcast three frames a message,
each speaker's mix-minus encoded for them one frame a message, levels in the header.

    python bench/baseline_relay.py --port 8765 [--codec opus]
"""

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import broadcast, serve

from spaces.audio_format import FRAME_BYTES, FRAME_SECONDS
from spaces.audio_wire import Message, clock_ms, pack, unpack
from spaces.realtime.jitter import JitterBuffer
from spaces.realtime.mixer import mix_tick
from spaces.realtime.opus import OpusDecoder, OpusEncoder
from spaces.realtime.streams import LISTENER_FRAMES, Captured, earliest

LEVELS_EVERY = 5  # ticks (100 ms), as the product


class Relay:
    def __init__(self, opus: bool = False, frames_per_message: int = LISTENER_FRAMES) -> None:
        self.opus, self.frames_per_message = opus, frames_per_message
        self.encoder = OpusEncoder() if opus else None
        self.minus_encoders: dict[int, OpusEncoder] = {}
        self.batch: list[bytes] = []
        self.batch_head: tuple[int, int] = (0, 0)  # seq, mix ms of the batch's first frame
        self.batch_voices: list[bytes] = []
        self.batch_levels: dict | None = None
        self.listeners: set = set()
        self.speakers: dict[int, object] = {}  # speaker id -> connection
        self.buffers: dict[int, JitterBuffer] = {}
        self.ticks = 0
        self.late = 0
        self.peaks: dict[int, float] = {}
        self.last_levels: dict = {}

    async def handler(self, ws) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        speaker = int(query["speaker"][0]) if "speaker" in query else None
        if speaker is None:
            self.listeners.add(ws)
        else:
            self.speakers[speaker] = ws
            self.buffers[speaker] = JitterBuffer()
            self.minus_encoders[speaker] = OpusEncoder() if self.opus else None
        decoder = OpusDecoder() if self.opus else None
        try:
            async for message in ws:
                if speaker is None or not isinstance(message, bytes):
                    continue
                if decoder is None and len(message) == FRAME_BYTES:
                    self.buffers[speaker].push(message)
                elif decoder is not None:
                    got = unpack(message)
                    for pcm in decoder.decode(got.frames[0]):
                        self.buffers[speaker].push(Captured.of(pcm, got.capture_ms))
        finally:
            if speaker is None:
                self.listeners.discard(ws)
            else:
                self.speakers.pop(speaker, None)
                self.buffers.pop(speaker, None)

    def tick(self) -> None:
        self.ticks += 1
        result = mix_tick(self.buffers, set(self.speakers))
        for uid, value in result.levels.items():
            self.peaks[uid] = max(value, self.peaks.get(uid, 0.0))
        levels = None
        if self.ticks % LEVELS_EVERY == 0:
            peaks = {uid: round(v, 2) for uid, v in self.peaks.items()}
            self.peaks = {}
            if peaks or self.last_levels:
                self.last_levels = levels = peaks
        if self.opus:
            self.tick_opus(result, levels)
            return
        broadcast(self.listeners, result.mix)
        for uid, ws in list(self.speakers.items()):
            broadcast((ws,), result.minus.get(uid, result.mix))
        if levels is not None:
            message = json.dumps(
                {"type": "levels", "levels": {str(u): v for u, v in levels.items()}}
            )
            broadcast(self.listeners, message)
            broadcast(list(self.speakers.values()), message)

    def tick_opus(self, result, levels: dict | None) -> None:
        """v2: one encode of the mix, broadcast `frames_per_message` frames a message; a
        mix-minus each, sent before the listeners' broadcast as the product does (speakers
        first)."""
        mix_ms = clock_ms()
        if not self.batch:
            self.batch_head, self.batch_voices = (self.ticks, mix_ms), []
        self.batch.append(self.encoder.encode(result.mix))
        self.batch_voices += result.frames.values()
        if levels is not None:
            self.batch_levels = levels
        for uid, ws in list(self.speakers.items()):
            encoder = self.minus_encoders.get(uid)
            if encoder is None:
                continue
            others = [f for u, f in result.frames.items() if u != uid]
            packet = encoder.encode(result.minus.get(uid, result.mix))
            message = Message([packet], self.ticks, earliest(others, mix_ms), mix_ms, levels)
            broadcast((ws,), pack(message))
        if len(self.batch) >= self.frames_per_message:
            seq, first_ms = self.batch_head
            capture = earliest(self.batch_voices, mix_ms)
            message = Message(self.batch, seq, capture, first_ms, self.batch_levels)
            broadcast(self.listeners, pack(message))
            self.batch, self.batch_levels = [], None

    async def run_ticks(self) -> None:
        next_t = time.monotonic()
        while True:
            next_t += FRAME_SECONDS
            self.tick()
            delay = next_t - time.monotonic()
            if delay < 0:
                self.late += 1
                if delay < -0.2:  # a stall: skip ahead rather than burst (as the product)
                    next_t = time.monotonic()
            await asyncio.sleep(max(0.0, delay))


async def main(port: int, codec: str = "pcm", frames: int = LISTENER_FRAMES) -> None:
    relay = Relay(codec == "opus", frames)
    async with serve(
        relay.handler,
        "127.0.0.1",
        port,
        max_size=4096,
        ping_interval=None,
        compression=None,
    ):
        await relay.run_ticks()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--codec", choices=["pcm", "opus"], default="pcm")
    parser.add_argument("--frames", type=int, default=LISTENER_FRAMES, help="per listener message")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.codec, args.frames))
