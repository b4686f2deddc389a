"""The terminal client's copy of the audio protocol equals the server's, and the client loads
nothing of the server: it is an outside client that happens to ship in the same package."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces import audio_format, audio_wire
from spaces.cli import protocol, wire
from spaces.cli.audio_files import frame_level
from spaces.realtime import close_codes, opus
from spaces.realtime.mixer import level
from testkit.audio import magnitude, tone_frames

ROOT = Path(__file__).resolve().parent.parent
SERVER_ONLY = {"flask", "flask_sock", "werkzeug", "jinja2", "sqlite_utils", "faster_whisper"}


@pytest.mark.parametrize(
    "name",
    [
        "SAMPLE_RATE",
        "SAMPLE_WIDTH",
        "SAMPLE_DTYPE",
        "FRAME_SAMPLES",
        "FRAME_BYTES",
        "FRAME_SECONDS",
    ],
)
def test_the_clients_frame_format_is_the_servers(name):
    assert getattr(protocol, name) == getattr(audio_format, name)


@pytest.mark.parametrize(
    ("client", "server"),
    [
        (protocol.VERSION, audio_wire.VERSION),
        (protocol.KIND_AUDIO, audio_wire.KIND_AUDIO),
        (protocol.FLAG_LEVELS, audio_wire.FLAG_LEVELS),
        (protocol.HEADER_FORMAT, audio_wire.HEADER.format),
        (protocol.FRAME_LENGTH_FORMAT, audio_wire.FRAME_LENGTH.format),
        (protocol.LEVEL_FORMAT, audio_wire.LEVEL.format),
        (protocol.OPUS_BITRATE, opus.BITRATE),
    ],
)
def test_the_clients_v2_wire_is_the_servers(client, server):
    assert client == server


def test_the_server_reads_what_the_client_sends_and_the_other_way_round():
    tone = tone_frames(1.0, 500, 10_000)
    client = wire.OpusWire()
    decoder = opus.OpusDecoder()
    heard = []
    for frame in tone:
        message = audio_wire.unpack(client.outgoing(frame))
        assert len(message.frames) == 1 and message.capture_ms
        heard += decoder.decode(message.frames[0])
    assert magnitude(heard[-1], 500) > 4000

    encoder = opus.OpusEncoder()
    packets = [encoder.encode(frame) for frame in tone]
    listener = wire.OpusWire()
    frames, levels = listener.incoming(
        audio_wire.pack(audio_wire.Message(packets[:3], 9, levels={7: 0.5}))
    )
    assert levels == {7: pytest.approx(0.5, abs=1 / 255)}
    for i in range(3, len(packets), 3):
        frames += listener.incoming(audio_wire.pack(audio_wire.Message(packets[i : i + 3], i)))[0]
    assert len(frames) >= len(tone) - 1
    assert magnitude(frames[-1], 500) > 4000


@pytest.mark.parametrize("name", ["REMOVED", "LEFT", "ENDED", "TOO_MANY"])
def test_the_clients_close_codes_are_the_servers(name):
    assert getattr(protocol, name) == getattr(close_codes, name)


def square(dbfs: float) -> bytes:
    """A frame whose RMS is `dbfs` (a square wave's RMS is its amplitude)."""
    amplitude = min(32_767, round(32_768 * 10 ** (dbfs / 20)))
    samples = np.where(np.arange(protocol.FRAME_SAMPLES) % 2 == 0, amplitude, -amplitude)
    return samples.astype("<i2").tobytes()


def server_level(frame: bytes) -> float:
    return level(np.frombuffer(frame, dtype="<i2"))


@pytest.mark.parametrize("dbfs", [-90, -61, -60, -59, -40, -20, -6, -1, 0])
def test_the_clients_meter_uses_the_scale_of_the_servers_levels(dbfs):
    frame = square(dbfs)
    assert frame_level(frame) == pytest.approx(server_level(frame), abs=1e-9)


def test_the_clients_meter_reads_silence_and_full_scale_as_the_server_does():
    full = np.full(protocol.FRAME_SAMPLES, -32_768, dtype="<i2").tobytes()
    assert frame_level(bytes(protocol.FRAME_BYTES)) == server_level(bytes(protocol.FRAME_BYTES))
    assert frame_level(full) == server_level(full) == 1.0
    assert frame_level(b"") == server_level(b"") == 0.0


@given(
    st.lists(
        st.integers(min_value=-32_768, max_value=32_767),
        min_size=protocol.FRAME_SAMPLES,
        max_size=protocol.FRAME_SAMPLES,
    ),
    st.integers(min_value=0, max_value=15),
)
def test_the_clients_meter_agrees_with_the_server_on_any_frame(samples, quieter_bits):
    frame = (np.array(samples, dtype=np.int32) >> quieter_bits).astype("<i2").tobytes()
    assert frame_level(frame) == pytest.approx(server_level(frame), abs=1e-9)


def test_the_terminal_client_loads_nothing_of_the_server():
    """Every module of spaces.cli, imported in a fresh interpreter: what else got loaded."""
    code = (
        "import importlib, pkgutil, sys, spaces.cli\n"
        "for m in pkgutil.iter_modules(spaces.cli.__path__):\n"
        "    importlib.import_module('spaces.cli.' + m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert {"spaces.cli.main", "spaces.cli.sound", "spaces.cli.protocol"} <= loaded
    ours = {name for name in loaded if name.partition(".")[0] == "spaces"}
    # The package's own __init__ defers the app factory: nothing of the server is loaded.
    assert {name for name in ours if not name.startswith("spaces.cli")} == {"spaces"}
    leaked = {name.partition(".")[0] for name in loaded} & SERVER_ONLY
    assert not leaked
