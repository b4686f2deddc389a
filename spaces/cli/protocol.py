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

# Protocol v2 (`?v=2&codec=opus`): Opus packets of 20 ms behind a 16-byte header of version, kind,
# frame count, flags, sequence number, capture and mix times (wall-clock ms modulo 2**32); each
# frame is preceded by its length; levels (user id, level in a byte) follow when flag bit 0 is set.
V2_QUERY = "?v=2&codec=opus"
VERSION = 2
KIND_AUDIO = 1
FLAG_LEVELS = 0x01
HEADER_FORMAT = "!BBBBIII"
FRAME_LENGTH_FORMAT = "!H"
LEVEL_FORMAT = "!IB"
OPUS_BITRATE = 24_000  # bit/s asked of the encoder

# A levels message's scale: RMS loudness in dBFS, 0 at this floor (and below), 1 at full scale.
LEVEL_FLOOR_DBFS = -60.0

# Close codes of the audio socket beyond the standard ones.
REMOVED = 4403  # the host removed you from the Space
LEFT = 4404  # you are not in the Space any more (you left it elsewhere, or logged out)
ENDED = 4410  # the Space ended
TOO_MANY = 4429  # too many sockets open for your account in this Space, or from your address
