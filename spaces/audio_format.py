"""The room's audio format: what speakers send, what is mixed, recorded, captioned and sent back.

Every frame is 20 ms of 16 kHz mono signed 16-bit little-endian PCM: 320 samples, 640 bytes,
50 a second. 16 kHz is also what the caption model (Whisper) takes, so captions use the frames
as they arrive. docs/audio-protocol.md describes the format to clients; the terminal client keeps
its own copy of these numbers (spaces/cli/protocol.py) and tests/test_audio_format.py checks
that the two agree. No numpy here: a format needs none.
"""

SAMPLE_RATE = 16_000  # Hz, one channel
SAMPLE_WIDTH = 2  # bytes per sample
SAMPLE_DTYPE = "<i2"  # numpy's name for signed 16-bit little-endian
FRAME_SAMPLES = 320
FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
SILENCE = bytes(FRAME_BYTES)


def frames_of(pcm: bytes) -> list[bytes]:
    """PCM in this format cut into frames, the last one padded with silence."""
    pcm = bytes(pcm) + bytes(-len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
