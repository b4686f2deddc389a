"""Marked bursts in the mix, for end-to-end latency.

The marker speaker (the host) sends, every BURST_EVERY frames, one frame whose first half is
full-scale positive and whose second half carries an 8-bit id as full-scale positive or negative
runs of 20 samples. Every speaker's speech is scaled to a peak of SPEECH_PEAK, so 11 voices sum
to less than full scale: the mix reaches +32767 only in a burst frame, and the burst's signs
survive the mix. A listener finds the frame by its runs of +32767, reads the id, and notes the
arrival time; the marker speaker notes each burst's send time.
"""

import numpy as np

from testkit.audio import FRAME_BYTES, FRAME_SAMPLES

SPEECH_PEAK = 2900  # 11 x 2900 < 32767: speech alone never reaches full scale in the mix
BURST_EVERY = 25  # frames (0.5 s) between bursts
QUIET_AROUND_BURST = 3  # frames of silence from the marker speaker either side of a burst
BURST_MARK = b"\xff\x7f" * 4  # four samples at +32767
SERVER_BINARY_HEADER = bytes([0x82, 126, FRAME_BYTES >> 8, FRAME_BYTES & 0xFF])
WIRE_FRAME = len(SERVER_BINARY_HEADER) + FRAME_BYTES  # one audio frame as the server sends it


def burst_frame(burst_id: int) -> bytes:
    samples = np.full(FRAME_SAMPLES, 32767, dtype="<i2")
    for bit in range(8):
        if not (burst_id >> bit) & 1:
            samples[160 + bit * 20 : 180 + bit * 20] = -32768
    return samples.tobytes()


def read_burst(payload: bytes) -> int | None:
    """The id of a burst frame in the received mix, or None if this frame is not one."""
    if len(payload) != FRAME_BYTES:
        return None
    samples = np.frombuffer(payload, dtype="<i2")
    if samples[:160].min() <= 0:
        return None
    groups = samples[160:].reshape(8, 20).astype(np.int32).sum(axis=1)
    return int(sum(1 << bit for bit in range(8) if groups[bit] > 0))


def marker_payload(tick: int, speech: list[bytes]) -> tuple[bytes, int | None]:
    """The marker speaker's frame at `tick`, and the burst's sequence number when it is one."""
    phase, seq = tick % BURST_EVERY, tick // BURST_EVERY
    if phase == 0:
        return burst_frame(seq % 256), seq
    if phase <= QUIET_AROUND_BURST or phase >= BURST_EVERY - QUIET_AROUND_BURST:
        return bytes(FRAME_BYTES), None
    return speech[tick % len(speech)], None
