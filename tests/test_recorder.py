"""Recording the room mix: Ogg/Opus that soundfile reads, safe against kill -9 and a full disk."""

import errno
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

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
    assert dominant_frequency(audio[rate // 2 :]) == pytest.approx(440, abs=5)


def test_a_write_error_stops_the_recording_without_raising(tmp_path):
    path = tmp_path / "space-1.ogg"
    recorder = Recorder(path)
    frames = tone_frames(1.0, amplitude=10_000)
    for frame in frames[:10]:
        recorder.write(frame)

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    recorder._file.buffer_write = disk_full
    recorder.write(frames[10])  # must not raise: the Space goes on
    assert recorder.error is not None
    assert "No space left on device" in recorder.error
    assert recorder.frames == 10
    for frame in frames[11:]:
        recorder.write(frame)  # ignored once stopped
    assert recorder.frames == 10
    recorder.close()
    assert recorder.seconds == pytest.approx(0.2)


def test_a_recording_that_cannot_be_created_reports_instead_of_raising(tmp_path):
    blocker = tmp_path / "recordings"
    blocker.write_text("a file where the directory should be")
    recorder = Recorder(blocker / "space-1.ogg")
    assert recorder.error is not None
    recorder.write(bytes(640))
    recorder.close()
    assert recorder.frames == 0
