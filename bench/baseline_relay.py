"""A minimal asyncio `websockets` relay doing the product's mixing, as the benchmark's yardstick.

It has none of the product's checks (no accounts, origin, roles, rate limits, recording): one
websocket per participant, `/audio?speaker=<n>` for a speaker (frames kept), anything else a
listener. Every 20 ms it runs the product's own mixer (spaces/realtime/mixer.py: per-speaker jitter
buffers from spaces/realtime/jitter.py, trimming included, int32 sum and clamp, mix-minus),
`websockets.broadcast`s the mix to the listeners, sends each speaker their mix-minus, and every
100 ms broadcasts the same levels message as the product.

    python bench/baseline_relay.py --port 8765
"""

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import broadcast, serve

from spaces.audio_format import FRAME_BYTES, FRAME_SECONDS
from spaces.realtime.jitter import JitterBuffer
from spaces.realtime.mixer import mix_tick

LEVELS_EVERY = 5  # ticks (100 ms), as the product


class Relay:
    def __init__(self) -> None:
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
        try:
            async for message in ws:
                if (
                    speaker is not None
                    and isinstance(message, bytes)
                    and len(message) == FRAME_BYTES
                ):
                    self.buffers[speaker].push(message)
        finally:
            if speaker is None:
                self.listeners.discard(ws)
            else:
                self.speakers.pop(speaker, None)
                self.buffers.pop(speaker, None)

    def tick(self) -> None:
        self.ticks += 1
        result = mix_tick(self.buffers, set(self.speakers))
        broadcast(self.listeners, result.mix)
        for uid, ws in list(self.speakers.items()):
            broadcast((ws,), result.minus.get(uid, result.mix))
        for uid, value in result.levels.items():
            self.peaks[uid] = max(value, self.peaks.get(uid, 0.0))
        if self.ticks % LEVELS_EVERY == 0:
            levels = {str(uid): round(v, 2) for uid, v in self.peaks.items()}
            self.peaks = {}
            if levels or self.last_levels:
                self.last_levels = levels
                message = json.dumps({"type": "levels", "levels": levels})
                broadcast(self.listeners, message)
                broadcast(list(self.speakers.values()), message)

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


async def main(port: int) -> None:
    relay = Relay()
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
    asyncio.run(main(parser.parse_args().port))
