"""Recording the room mix: Ogg/Opus that soundfile and PyAV read, made of the very packets the
room's encoder sent listeners, safe against kill -9 and a full disk."""

import builtins
import errno
import subprocess
import sys
import textwrap

import av
import numpy as np
import pytest
import soundfile as sf

from spaces.realtime import recorder as recorder_module
from spaces.realtime.opus import OpusEncoder
from spaces.realtime.recorder import Recorder
from spaces.recordings import recording_path
from testkit.audio import SAMPLE_RATE, tone_frames


def dominant_frequency(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / audio.size)


def test_recording_is_ogg_opus_readable_with_soundfile(tmp_path):
    path = recording_path(tmp_path, 7)
    assert path.name == "space-7.ogg"
    recorder = Recorder(path, start_offset=12.5)
    for frame in tone_frames(2.0, amplitude=10_000):
        recorder.write(frame)
    recorder.close()

    assert recorder.error is None
    assert recorder.seconds == pytest.approx(2.0)
    info = sf.info(str(path))
    assert (info.format, info.subtype) == ("OGG", "OPUS")
    assert (info.samplerate, info.channels) == (SAMPLE_RATE, 1)
    audio, rate = sf.read(str(path), dtype="float64")
    assert audio.size / rate == pytest.approx(2.0, abs=0.05)
    middle = audio[rate // 2 : rate * 3 // 2]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(10_000 / 32_768 / np.sqrt(2), rel=0.2)
    assert dominant_frequency(middle) == pytest.approx(440, abs=5)
    assert path.stat().st_size < 2 * SAMPLE_RATE * 2 / 4  # compressed, well under raw PCM


def test_the_file_holds_the_encoders_packets_unchanged(tmp_path):
    """No second encode: what listeners got is what the review page plays."""
    path = tmp_path / "space-3.ogg"
    encoder = OpusEncoder()
    packets = [encoder.encode(f) for f in tone_frames(1.0, amplitude=10_000)]
    recorder = Recorder(path, header=encoder.header)
    for packet in packets:
        recorder.write_packet(packet)
    recorder.close()
    with av.open(str(path)) as container:
        stored = [bytes(p) for p in container.demux(audio=0) if p.size]
    assert stored == packets


def pyav_seconds(path) -> float:
    """Seconds PyAV (FFmpeg) decodes from the file: what a browser's player gets."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples / f.sample_rate for f in container.decode(stream))


def test_parts_after_a_restart_get_their_own_file(tmp_path):
    assert recording_path(tmp_path, 7, 2).name == "space-7.part2.ogg"


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from pathlib import Path
    from spaces.realtime.recorder import Recorder

    path, frames = Path(sys.argv[1]), int(sys.argv[2])
    recorder = Recorder(path)
    t = np.arange(frames * 320) / 16000
    pcm = np.round(10000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    for i in range(frames):
        recorder.write(pcm[i * 640 : (i + 1) * 640])
    assert recorder.error is None
    os._exit(0)  # as kill -9: no close, no flush, no atexit
    """
)


@pytest.mark.parametrize("seconds", [5.0, 5.5])
def test_a_killed_server_loses_at_most_about_the_last_second(tmp_path, seconds):
    path = tmp_path / "space-1.ogg"
    frames = round(seconds * 50)
    subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(frames)], check=True, timeout=60
    )
    audio, rate = sf.read(str(path), dtype="float64")
    kept = audio.size / rate
    assert seconds - 1.5 <= kept <= seconds
    assert pyav_seconds(path) == pytest.approx(kept, abs=0.05)
    assert dominant_frequency(audio[rate // 2 :]) == pytest.approx(440, abs=5)


class FillingDisk:
    """A file on a disk that fills after `room` writes (a page every half second)."""

    def __init__(self, file, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_a_write_error_stops_the_recording_without_raising(tmp_path, monkeypatch):
    path = tmp_path / "space-1.ogg"
    # Two header pages and two pages of audio fit on the disk.
    monkeypatch.setattr(
        recorder_module, "open", lambda *a, **k: FillingDisk(builtins.open(*a, **k), 4), False
    )
    recorder = Recorder(path)
    frames = tone_frames(4.0, amplitude=10_000)
    for frame in frames:
        recorder.write(frame)  # must not raise: the Space goes on
    assert recorder.error is not None
    assert "No space left on device" in recorder.error
    stopped_at = recorder.frames
    assert 50 <= stopped_at < 150
    recorder.close()
    assert recorder.frames == stopped_at  # nothing written once stopped
    assert pyav_seconds(path) == pytest.approx(1.0, abs=0.1)  # the page before the error plays


def test_a_recording_that_cannot_be_created_reports_instead_of_raising(tmp_path):
    blocker = tmp_path / "recordings"
    blocker.write_text("a file where the directory should be")
    recorder = Recorder(blocker / "space-1.ogg")
    assert recorder.error is not None
    recorder.write(bytes(640))
    recorder.close()
    assert recorder.frames == 0
