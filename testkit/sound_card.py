"""A sound card for the terminal client on a machine without one: ALSA's `file` plugin over its
`null` device, set up as the default device in an ~/.asoundrc of a temporary HOME.

The microphone reads a named pipe that a thread here fills with 16 kHz PCM at real-time pace, so
the pipe is the device's clock; the speaker writes to another named pipe that a thread drains at
real-time pace and keeps. (ALSA's `null` device alone has no clock: it would capture or play as
fast as the CPU goes.) PortAudio sees `default`, `mic` and `speaker`; opening any of them opens
both pipes' ends, which is why both threads run whatever a test uses.
"""

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from .audio import FRAME_BYTES, SAMPLE_RATE, SILENCE

F_SETPIPE_SZ = 1031  # Linux: a pipe of one page holds 128 ms of audio, not two seconds
BYTES_PER_SECOND = SAMPLE_RATE * 2

ASOUNDRC = """\
pcm.!default {{
  type asym
  capture.pcm "mic"
  playback.pcm "speaker"
}}
pcm.mic {{
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "{mic}"
  format "raw"
}}
pcm.speaker {{
  type file
  slave.pcm "null"
  file "{speaker}"
  format "raw"
}}
"""


class FileBackedSoundCard:
    """`env` for a subprocess whose default ALSA device is this card. `speak(frames)` loops those
    20 ms frames into the microphone (silence until then); `played` is everything the speaker
    played, 16 kHz mono 16-bit PCM."""

    def __init__(self, directory: Path) -> None:
        home = directory / "home"
        home.mkdir(parents=True)
        self.mic_pipe = directory / "mic.fifo"
        self.speaker_pipe = directory / "speaker.fifo"
        os.mkfifo(self.mic_pipe)
        os.mkfifo(self.speaker_pipe)
        (home / ".asoundrc").write_text(
            ASOUNDRC.format(mic=self.mic_pipe, speaker=self.speaker_pipe)
        )
        self.env = {"HOME": str(home)}
        self.played = bytearray()
        self._speech: list[bytes] = [SILENCE]
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._fill_mic, daemon=True),
            threading.Thread(target=self._drain_speaker, daemon=True),
        ]

    def speak(self, frames: list[bytes]) -> None:
        self._speech = list(frames)

    def __enter__(self) -> "FileBackedSoundCard":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stopping.set()
        # Threads waiting for the other end of a pipe to be opened are let go by opening it.
        for pipe, flags in ((self.mic_pipe, os.O_RDONLY), (self.speaker_pipe, os.O_WRONLY)):
            with contextlib.suppress(OSError):
                os.close(os.open(pipe, flags | os.O_NONBLOCK))
        for thread in self._threads:
            thread.join(5)

    def _fill_mic(self) -> None:
        """One frame every 20 ms for as long as the client holds the microphone open (it opens
        and closes it several times while PortAudio looks for devices)."""
        sent = 0
        while not self._stopping.is_set():
            with contextlib.suppress(BrokenPipeError), open(self.mic_pipe, "wb", buffering=0) as f:
                fcntl.fcntl(f, F_SETPIPE_SZ, 4096)
                start = time.monotonic() - sent * FRAME_BYTES / BYTES_PER_SECOND
                while not self._stopping.is_set():
                    speech = self._speech
                    f.write(speech[sent % len(speech)])
                    sent += 1
                    time.sleep(
                        max(0.0, start + sent * FRAME_BYTES / BYTES_PER_SECOND - time.monotonic())
                    )

    def _drain_speaker(self) -> None:
        """Reads what the client plays no faster than real time: the speaker's clock."""
        while not self._stopping.is_set():
            fd = os.open(self.speaker_pipe, os.O_RDONLY)
            try:
                with contextlib.suppress(OSError):
                    fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
                start = time.monotonic()
                read = 0
                while data := os.read(fd, FRAME_BYTES):
                    self.played += data
                    read += len(data)
                    time.sleep(max(0.0, start + read / BYTES_PER_SECOND - time.monotonic()))
            finally:
                os.close(fd)
