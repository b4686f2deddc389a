"""The `spaces` terminal client: `speak --file` into a Space, `listen --out` records it, and the
recording matches the input; refusals and closes end it with a clear message. Plus its parts
(addresses, tokens, resampling) and the server's rule that token clients need no CSRF token."""

import importlib.util
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spaces import accounts, rooms, sessions
from spaces import db as dbm
from spaces import tokens as tokens_table
from spaces.cli import tokens
from spaces.cli.api import SpaceURL, server_url
from spaces.cli.audio_files import FRAME_BYTES, load_frames
from spaces.cli.exits import EXIT_ENDED, EXIT_REFUSED, CliError
from spaces.cli.main import main
from spaces.cli.meter import Meter
from spaces.web import SESSION_KEY
from testkit.audio import SHARED_AUDIO
from testkit.http_user import HttpUser
from testkit.server import LiveServer
from testkit.sound_card import FileBackedSoundCard
from testkit.waiting import wait_until

SPEECH = SHARED_AUDIO / "sample01.wav"
needs_pyaudio = pytest.mark.skipif(
    importlib.util.find_spec("pyaudio") is None,
    reason="PyAudio (the cli extra) is not installed: make test installs it",
)
LISTENER_MESSAGE = "You are a listener in this Space: ask the host to make you a speaker"


def spaces_command() -> list[str]:
    script = Path(sys.executable).with_name("spaces")
    return [str(script)] if script.exists() else [sys.executable, "-m", "spaces.cli.main"]


class Terminal:
    """One person's `spaces` runs: their own token file (SPACES_CONFIG)."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.env = {
            **os.environ,
            "SPACES_CONFIG": str(tmp_path / f"{name}-tokens.json"),
            # This checkout's client, whatever the environment has installed.
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }

    def with_env(self, **extra: str) -> "Terminal":
        """The same person's runs with more environment (a sound card of the test's own)."""
        other = Terminal.__new__(Terminal)
        other.env = {**self.env, **extra}
        return other

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*spaces_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, needle: str, *args: str) -> "Running":
        """Starts `spaces *args` and waits until it says `needle`."""
        proc = subprocess.Popen(
            [*spaces_command(), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return Running(proc, needle)


class Running:
    """A `spaces` process and what it says on stderr, read by a thread as it comes."""

    def __init__(self, proc: subprocess.Popen, needle: str, within: float = 30.0) -> None:
        self.proc = proc
        self.lines: list[str] = []
        found = threading.Event()

        def read() -> None:
            for line in proc.stderr:
                self.lines.append(line)
                if needle in line:
                    found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not found.wait(within):
            proc.kill()
            pytest.fail(f"no {needle!r} from the client within {within}s: {self.err}")

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def finish(self, within: float = 60) -> tuple[int, str]:
        """Waits for the process to end by itself (generous: a loaded machine is slow to stop a
        client that is still sending); its exit code and everything it said."""
        try:
            code = self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"the client did not stop within {within}s: {self.err}")
        self.reader.join(10)  # its stderr closed with it: the reader takes the last lines
        return code, self.err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def best_correlation(recording: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Peak normalized cross-correlation of `reference` against every lag in `recording`."""
    rec, ref = recording.astype(np.float64), reference.astype(np.float64)
    n = 1 << (rec.size + ref.size - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)[: rec.size]
    energy = np.concatenate([[0.0], np.cumsum(rec**2)])
    lags = np.arange(rec.size)
    window = energy[np.minimum(lags + ref.size, rec.size)] - energy[lags]
    ref_energy = np.sum(ref**2)
    # Lags where the recording is all but silent would divide rounding noise by nothing.
    audible = window > 0.01 * ref_energy
    score = np.where(audible, corr / np.sqrt(np.maximum(window, 1.0) * ref_energy), 0.0)
    best = int(np.argmax(score))
    return float(score[best]), best


def frames_of_the_speech(recording: bytes, speech: list[bytes]) -> list[int]:
    """Which of the speech's 20 ms frames each sounding frame of the recording is (the server
    mixes one speaker's PCM unchanged, and both sides cut frames at the same boundaries); None
    for a sounding frame that is none of them."""
    where = {frame: i for i, frame in enumerate(speech)}
    frames = (recording[i : i + FRAME_BYTES] for i in range(0, len(recording), FRAME_BYTES))
    return [where.get(frame) for frame in frames if any(frame)]


@pytest.fixture(scope="module")
def accounts_made(server, tmp_path_factory):
    """A host and a listener with accounts on the server, each signed in with `spaces login`."""
    tmp = tmp_path_factory.mktemp("cli-people")
    made = {}
    for role in ("host", "fan"):
        name = f"cli_{role}_{os.getpid()}"
        person = HttpUser(server.url, name)
        term = Terminal(tmp, role)
        result = term.run("login", server.url, "--username", name, "--password", "correct horse")
        assert result.returncode == 0, result.stderr
        assert f"Signed in to {server.url} as {name}" in result.stderr
        made[role] = (person, term)
    return made


@pytest.fixture
def space(server, accounts_made):
    host, _ = accounts_made["host"]
    space_id = host.open_space("Terminal")
    yield f"{server.url}/spaces/{space_id}", space_id
    host.post(f"/spaces/{space_id}/end")


# Speak and listen -----------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.parametrize("wire", [[], ["--pcm"]], ids=["opus", "pcm"])
def test_speak_file_is_recorded_by_listen_out(space, accounts_made, tmp_path, wire):
    """`spaces speak --file` into a Space, `spaces listen --out` there records it: the speech,
    in order; Opus (v2) by default, bare PCM (v1) with --pcm. The listener runs until the speech
    is through (Ctrl-C): `spaces speak` is a new Python process, which takes seconds to start on
    a loaded machine."""
    url, _ = space
    _, host = accounts_made["host"]
    _, fan = accounts_made["fan"]
    out = tmp_path / "heard.wav"

    listener = fan.start("Listening to", "listen", url, "--out", str(out), "--meter", *wire)
    try:
        spoken = host.run("speak", url, "--file", str(SPEECH), "--meter", *wire)
        # Then two seconds more recorded (16 kHz, 2 bytes a sample): the speech's last frames,
        # held up at most by the server's buffer, are in.
        after_speech = out.stat().st_size
        wait_until(
            lambda: out.stat().st_size >= after_speech + 2 * 16_000 * 2,
            30,
            what="two seconds recorded after the speech",
        )
        listener.proc.send_signal(signal.SIGINT)
        code, err = listener.finish()
    finally:
        listener.stop()

    assert spoken.returncode == 0, spoken.stderr
    assert "Speaking in" in spoken.stderr
    assert re.search(r"\[#+-*\] +-?\d+\.\d dB .*the server hears you", spoken.stderr)
    assert code == 0, err
    assert "Stopped." in err
    recorded = re.search(rf"Recorded (\d+\.\d) s to {re.escape(str(out))}", err)
    assert recorded, err
    assert re.search(r"\[#+-*\]", err)  # the listener's meter moved too

    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    assert info.duration == pytest.approx(float(recorded.group(1)), abs=0.05)
    recording, _ = sf.read(str(out), dtype="int16")
    if wire:  # PCM travels bit-exact
        sent = load_frames(SPEECH)  # the frames `spaces speak` sent
        heard = frames_of_the_speech(recording.tobytes(), sent)
        # Nothing but the speech's own frames, unaltered, each once and in order, with silence
        # around them (before the speaker came, and wherever the stream ran dry).
        assert None not in heard, heard
        assert heard == sorted(set(heard)), heard
        # Most of them: on a busy machine the server lets go of frames that pile up after a
        # stall (a speaker's buffer holds 120 ms), so all of them only on a quiet one.
        assert len(heard) >= 0.6 * len(sent), f"{len(heard)} of {len(sent)} frames heard"
        print(f"heard {len(heard)} of the speech's {len(sent)} frames")
        return
    # Opus is not bit-exact: each second of the speech is found in the recording by correlation,
    # in order; most seconds (frames let go after a stall on a busy machine cut a few).
    reference, rate = sf.read(str(SPEECH), dtype="int16")
    found = [
        best_correlation(recording, reference[i : i + rate])
        for i in range(0, reference.size - rate, rate)
    ]
    matched = [lag for score, lag in found if score > 0.6]
    assert len(matched) >= 0.6 * len(found), found
    assert matched == sorted(matched), found
    other, _ = sf.read(str(SHARED_AUDIO / "sample02.wav"), dtype="int16")
    assert best_correlation(recording, other[rate : 2 * rate])[0] < 0.5  # tells speeches apart
    print(f"found {len(matched)} of the speech's {len(found)} seconds")


def pieces_of_the_speech_found(recording: np.ndarray, seconds: float = 1.0) -> tuple[int, int]:
    """How many pieces of SPEECH (`seconds` long, one after another) are in `recording`, found by
    correlation (Opus is not bit-exact), of how many."""
    reference, rate = sf.read(str(SPEECH), dtype="int16")
    size = int(seconds * rate)
    found = [
        best_correlation(recording, reference[i : i + size])[0]
        for i in range(0, reference.size - size, size)
    ]
    return sum(score > 0.6 for score in found), len(found)


# The microphone and the speaker (PyAudio) on a sound card made of named pipes
# (testkit/sound_card.py): what a machine without one can still run.


@pytest.mark.live
@needs_pyaudio
def test_speak_mic_sends_what_the_microphone_hears(space, accounts_made, tmp_path):
    """`spaces speak --mic` reads the default ALSA device (speech looped into it at real-time
    pace) and a listener records that speech."""
    url, _ = space
    _, host = accounts_made["host"]
    _, fan = accounts_made["fan"]
    out = tmp_path / "heard.wav"
    with FileBackedSoundCard(tmp_path / "card") as card:
        card.speak(load_frames(SPEECH))
        listener = fan.start("Listening to", "listen", url, "--out", str(out))
        speaker = host.with_env(**card.env).start("Speaking in", "speak", url, "--mic", "--meter")
        try:
            start = out.stat().st_size
            wait_until(
                lambda: out.stat().st_size >= start + 10 * 16_000 * 2,
                60,
                what="ten seconds recorded while the microphone is on",
            )
            speaker.proc.send_signal(signal.SIGINT)
            code, err = speaker.finish()
            listener.proc.send_signal(signal.SIGINT)
            listener.finish()
        finally:
            speaker.stop()
            listener.stop()
    assert code == 0, err
    assert "from the microphone" in err
    assert re.search(r"\[#+-*\] +-?\d+\.\d dB .*the server hears you", err)
    recording, _ = sf.read(str(out), dtype="int16")
    found, of = pieces_of_the_speech_found(recording)
    assert found >= 0.6 * of, f"{found} of the speech's {of} seconds heard"


@pytest.mark.live
@needs_pyaudio
def test_listen_plays_the_space_on_the_speaker(space, accounts_made, tmp_path):
    """`spaces listen` without --out plays the Space on the default ALSA device: the speech
    someone speaks comes out of it."""
    url, _ = space
    _, host = accounts_made["host"]
    _, fan = accounts_made["fan"]
    with FileBackedSoundCard(tmp_path / "card") as card:
        listener = fan.with_env(**card.env).start("Listening to", "listen", url, "--meter")
        try:
            spoken = host.run("speak", url, "--file", str(SPEECH))
            after = len(card.played)
            wait_until(
                lambda: len(card.played) >= after + 16_000 * 2,
                30,
                what="a second more played after the speech",
            )
            listener.proc.send_signal(signal.SIGINT)
            code, err = listener.finish()
        finally:
            listener.stop()
    assert spoken.returncode == 0, spoken.stderr
    assert code == 0, err
    assert "Stopped." in err
    played = np.frombuffer(bytes(card.played[: len(card.played) // 2 * 2]), dtype=np.int16)
    # Half seconds: the speaker's jitter buffer plays silence where a stall of the machine left
    # it dry (and drops what piled up), which cuts into whole seconds of the speech.
    found, of = pieces_of_the_speech_found(played, seconds=0.5)
    assert found >= 0.6 * of, f"{found} of the speech's {of} half seconds played"


@pytest.mark.live
def test_ctrl_c_stops_a_listener_that_is_reconnecting(tmp_path):
    """The server went away: the client tries again for 10 s (RECONNECT_FOR), and Ctrl-C ends
    it meanwhile, at once and cleanly (it used to wait out the attempts, then fail)."""
    server = LiveServer(tmp_path / "server").start()
    try:
        host = HttpUser(server.url, "cli_gone_host")
        name = "cli_gone_fan"
        HttpUser(server.url, name)
        term = Terminal(tmp_path, "gone")
        login = term.run("login", server.url, "--username", name, "--password", "correct horse")
        assert login.returncode == 0, login.stderr
        url = f"{server.url}/spaces/{host.open_space('Going away')}"
        listener = term.start("Listening to", "listen", url, "--out", os.devnull)
    finally:
        server.stop()
    try:
        wait_until(lambda: "reconnecting" in listener.err, 15, what="the client reconnecting")
        time.sleep(1)  # into the attempts
        listener.proc.send_signal(signal.SIGINT)
        code, err = listener.finish(within=3)
        assert code == 0, err
        assert "Stopped." in err
        assert "Lost the audio connection" not in err
    finally:
        listener.stop()


@pytest.mark.live
def test_listen_for_some_seconds_records_that_long_and_stops(space, accounts_made, tmp_path):
    url, _ = space
    _, fan = accounts_made["fan"]
    out = tmp_path / "two-seconds.wav"
    result = fan.run("listen", url, "--out", str(out), "--seconds", "2")
    assert result.returncode == 0, result.stderr
    assert f"Recorded 2.0 s to {out}" in result.stderr
    assert sf.info(str(out)).duration == pytest.approx(2.0, abs=0.05)


@pytest.mark.live
def test_a_listener_cannot_speak_and_is_told_why(space, accounts_made):
    url, _ = space
    fan_person, fan = accounts_made["fan"]
    result = fan.run("speak", url, "--file", str(SPEECH))
    assert result.returncode == EXIT_REFUSED
    assert LISTENER_MESSAGE in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def fan_listening(space, accounts_made):
    """The fan's `spaces listen` in the Space, running."""
    _, fan = accounts_made["fan"]
    listener = fan.start("Listening to", "listen", space[0], "--out", os.devnull)
    yield listener
    listener.stop()


@pytest.mark.live
def test_listen_stops_with_a_clear_message_when_removed(space, accounts_made, fan_listening):
    url, space_id = space
    listener = fan_listening
    host_person, _ = accounts_made["host"]
    fan_person, fan = accounts_made["fan"]
    host_person.act(f"/spaces/{space_id}/people/{fan_person.id}/remove")  # answered 200
    code, err = listener.finish()
    assert code == EXIT_REFUSED
    assert "The host removed you from this Space." in err
    # Coming back is refused before any audio, with the server's own reason.
    again = fan.run("listen", url, "--out", os.devnull, "--seconds", "1")
    assert again.returncode == EXIT_REFUSED
    assert "The host removed you from this Space." in again.stderr


@pytest.mark.live
def test_listen_and_speak_stop_with_a_clear_message_when_the_space_ends(
    space, accounts_made, fan_listening
):
    url, space_id = space
    listener = fan_listening
    host_person, host = accounts_made["host"]
    speaker = host.start("Speaking in", "speak", url, "--file", str(SPEECH), "--loop")
    host_person.act(f"/spaces/{space_id}/end")  # answered 200
    for running in (listener, speaker):
        code, err = running.finish()
        assert code == EXIT_ENDED, err
        assert "This Space has ended." in err
        assert "Traceback" not in err
    _, fan = accounts_made["fan"]
    late = fan.run("listen", url, "--out", os.devnull)
    assert late.returncode == EXIT_ENDED
    assert "This Space has ended." in late.stderr


@pytest.mark.live
def test_login_keeps_the_token_private_and_refuses_a_wrong_password(server, tmp_path):
    term = Terminal(tmp_path, "someone")
    HttpUser(server.url, f"cli_login_{os.getpid()}")
    wrong = term.run("login", server.url, "-u", f"cli_login_{os.getpid()}", "-p", "nope nope")
    assert wrong.returncode == EXIT_REFUSED
    assert "That username and password do not match." in wrong.stderr
    assert not Path(term.env["SPACES_CONFIG"]).exists()

    right = term.run(
        "login", server.url + "/spaces/1", "-u", f"cli_login_{os.getpid()}", "-p", "correct horse"
    )
    assert right.returncode == 0, right.stderr
    path = Path(term.env["SPACES_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token, username = tokens.token_for(server.url, path)
    assert username == f"cli_login_{os.getpid()}" and len(token) > 20


@pytest.mark.live
def test_not_signed_in_and_bad_tokens_are_told_to_log_in(server, space, tmp_path):
    url, _ = space
    term = Terminal(tmp_path, "nobody")
    result = term.run("listen", url, "--out", os.devnull)
    assert result.returncode == EXIT_REFUSED
    assert f"You are not signed in to {server.url}. Run: spaces login {server.url}" in (
        result.stderr
    )
    tokens.save_token(server.url, "forged-token", "nobody", Path(term.env["SPACES_CONFIG"]))
    result = term.run("speak", url, "--file", str(SPEECH))
    assert result.returncode == EXIT_REFUSED
    assert "did not accept your sign-in" in result.stderr


# Parts ----------------------------------------------------------------------------------------


def test_space_addresses_and_server_names():
    url = SpaceURL.parse("https://Example.org/spaces/12")
    assert (url.server, url.space_id) == ("https://example.org", 12)
    assert url.audio == "wss://example.org/spaces/12/audio"
    prefixed = SpaceURL.parse("http://host:8080/app/spaces/3/")
    assert prefixed.server == "http://host:8080/app"
    assert prefixed.audio == "ws://host:8080/app/spaces/3/audio"
    assert server_url("http://host:8080/") == "http://host:8080"
    assert server_url("http://host:8080/spaces/9") == "http://host:8080"
    for bad in ("host/spaces/1", "ftp://host/spaces/1", "http://host/people/1"):
        with pytest.raises(CliError):
            SpaceURL.parse(bad)


def test_files_are_downmixed_and_resampled_to_16_khz_mono(tmp_path):
    rate = 44_100
    t = np.arange(rate) / rate
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    right = 0.5 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 15_000 * t)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), rate, subtype="PCM_16")

    frames = load_frames(path)
    assert all(len(frame) == FRAME_BYTES for frame in frames)
    assert len(frames) == 50  # one second
    pcm = np.frombuffer(b"".join(frames), dtype="<i2").astype(np.float64) / 32768
    spectrum = np.abs(np.fft.rfft(pcm[1600:14400] * np.hanning(12800)))
    freqs = np.fft.rfftfreq(12800, 1 / 16_000)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1000, abs=5)
    # 15 kHz is above the new Nyquist (8 kHz): filtered out, not folded down to 1 kHz.
    alias = spectrum[np.abs(freqs - 1000).argmin() + 20 :].max()
    assert alias < spectrum.max() * 0.01
    assert np.sqrt(np.mean(pcm[1600:14400] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_a_missing_file_is_a_clear_error(tmp_path, capsys):
    code = main(["speak", "http://127.0.0.1:9/spaces/1", "--file", str(tmp_path / "none.wav")])
    assert code == 1
    assert "Cannot read" in capsys.readouterr().err


def test_the_meter_draws_one_line_in_place(tmp_path):
    with open(tmp_path / "err.txt", "w+", newline="") as stream:
        meter = Meter("speak", stream=stream, enabled=True)
        meter.show(0.5, "00:01")
        time.sleep(0.11)  # the meter's own redraw interval (0.1 s) passing: it waits for no one
        meter.show(1.0, "00:02")
        meter.say("A message.")
        meter.clear()
        stream.seek(0)
        text = stream.read()
    assert text.count("\n") == 1  # the meter redraws with \r; only the message ends a line
    assert "[" + "#" * 15 + "-" * 15 + "]  -30.0 dB" in text
    assert "[" + "#" * 30 + "]    0.0 dB" in text


# The server: bearer-token clients need no CSRF token; cookie sessions still do ---------------


def test_token_posts_need_no_csrf_token_but_cookie_posts_do(csrf_app):
    db = dbm.connect(csrf_app.config["DATABASE"])
    host = accounts.sign_up(db, "tokenhost", "correct horse")
    fan = accounts.sign_up(db, "tokenfan", "correct horse")
    space = rooms.create(db, host, "Tokens", "", "everyone")
    token = tokens_table.issue(db, fan["id"], days=30)
    join = f"/spaces/{space['id']}/join"
    bearer = {"Authorization": f"Bearer {token}", "HX-Request": "true"}

    client = csrf_app.test_client()
    assert client.post(join, headers=bearer).status_code == 200

    forged = csrf_app.test_client()
    response = forged.post(join, headers={"Authorization": "Bearer forged", "HX-Request": "true"})
    assert response.status_code == 400  # not a valid token: checked like any other request

    browser = csrf_app.test_client()
    browser.post("/login", data={"username": "tokenhost", "password": "correct horse"})
    with browser.session_transaction() as session:  # the login above lacked its CSRF token
        session[SESSION_KEY] = sessions.start(db, host["id"], max_age=3600)
    # A cookie session is checked for CSRF, even when a bearer token rides along.
    assert browser.post(join, headers={"HX-Request": "true"}).status_code == 400
    assert browser.post(join, headers=bearer).status_code == 400
