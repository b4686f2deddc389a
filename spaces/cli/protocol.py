"""The audio protocol's numbers, as docs/audio-protocol.md states them.

The terminal client is an outside client: it imports nothing from the server and keeps its own
copy of what it needs, here. tests/test_cli_protocol.py checks that they equal the server's
(spaces/audio_format.py and spaces/realtime/close_codes.py).
"""

# Every audio message: one 20 ms frame of 16 kHz mono signed 16-bit little-endian PCM.
SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes
SAMPLE_DTYPE = "<i2"  # numpy's name for it
FRAME_SAMPLES = 320
FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE

# A levels message's scale: RMS loudness in dBFS, 0 at this floor (and below), 1 at full scale.
LEVEL_FLOOR_DBFS = -60.0

# Close codes of the audio socket beyond the standard ones.
REMOVED = 4403  # the host removed you from the Space
LEFT = 4404  # you are not in the Space any more (you left it elsewhere, or logged out)
ENDED = 4410  # the Space ended
TOO_MANY = 4429  # too many sockets open for your account in this Space, or from your address
