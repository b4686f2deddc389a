"""The three commands: login, listen, speak."""

import contextlib
import getpass
import json
import threading
import time

from . import tokens
from .api import Api, SpaceURL, server_url
from .audio_files import WavWriter, frame_level, frames_forever, load_frames
from .ctrl_c import ctrl_c_as_flag
from .exits import EXIT_OK, CliError
from .link import AudioLink, Closed
from .meter import Meter, clock
from .protocol import FRAME_SECONDS
from .sound import Microphone, Speaker
from .wire import wire_for

TAIL_SECONDS = 0.3  # after the last frame, before the mic goes off: the server's buffer plays out
POLL_SECONDS = 0.25  # the longest a receive waits, so a Ctrl-C is seen within it


def login(url: str, username: str | None, password: str | None, meter: Meter) -> int:
    server = server_url(url)
    try:
        username = username or input("Username: ").strip()
        password = password or getpass.getpass("Password: ")
    except EOFError as exc:
        raise CliError("A username and password are needed to sign in.") from exc
    answer = Api(server).get_token(username, password)
    name = answer.get("username") or username
    path = tokens.save_token(server, answer["token"], name)
    meter.say(f"Signed in to {server} as {name}; token saved in {path}.")
    return EXIT_OK


def _enter(url: SpaceURL, token: str) -> tuple[Api, int | None]:
    """Checks the sign-in and the Space, joins it, and returns (api, your user id)."""
    api = Api(url.server, token)
    me = api.me(url.space_id)
    api.join(url.space_id)
    return api, me


@contextlib.contextmanager
def _until_stopped(meter: Meter):
    """How a listen or speak session ends: a clean close by the server or Ctrl-C is said on the
    terminal, not raised; anything else (refused, removed, network) goes up as an error."""
    try:
        yield
    except Closed as exc:
        if exc.code != EXIT_OK:
            raise
        meter.say(exc.message)
    except KeyboardInterrupt:
        meter.say("Stopped.")
    finally:
        meter.clear()


def listen(
    url: SpaceURL, out: str | None, seconds: float | None, meter: Meter, pcm: bool = False
) -> int:
    token, _ = tokens.token_for(url.server)
    wire = wire_for(pcm)
    # The sound device opens before joining: no device, no half-joined listener.
    sink = WavWriter(out) if out else Speaker()
    limit = round(seconds / FRAME_SECONDS) if seconds else None
    where = f", recording to {out}" if out else ""
    try:
        with _until_stopped(meter), ctrl_c_as_flag() as ctrl_c:
            _enter(url, token)
            with AudioLink(url, token, meter.say, query=wire.query, stop=ctrl_c) as link:
                meter.say(f"Listening to {url.page}{where}. Ctrl-C to stop.")
                while (limit is None or sink.frames < limit) and not ctrl_c.is_set():
                    message = link.recv(timeout=POLL_SECONDS)
                    if not isinstance(message, bytes):
                        continue
                    for frame in wire.incoming(message)[0]:
                        if limit is None or sink.frames < limit:
                            sink.write(frame)
                            meter.show(frame_level(frame), clock(sink.seconds))
            if ctrl_c.is_set():
                meter.say("Stopped.")
    finally:
        sink.close()
        if out and sink.frames:
            meter.say(f"Recorded {sink.seconds:.1f} s to {out}.")
    return EXIT_OK


def speak(
    url: SpaceURL,
    file: str | None,
    use_mic: bool,
    loop: bool,
    hear: bool,
    meter: Meter,
    pcm: bool = False,
) -> int:
    frames = load_frames(file) if file else None
    wire = wire_for(pcm)
    token, _ = tokens.token_for(url.server)
    mic = speaker = None
    try:
        if use_mic:
            mic = Microphone()
        if hear:
            speaker = Speaker()
        api, me = _enter(url, token)
        api.set_mic(url.space_id, True)  # refuses a listener with a clear message
        try:
            source = "the microphone" if mic else file
            with _until_stopped(meter), ctrl_c_as_flag() as ctrl_c:
                with AudioLink(url, token, meter.say, query=wire.query, stop=ctrl_c) as link:
                    meter.say(f"Speaking in {url.page} from {source}. Ctrl-C to stop.")
                    talk = _Talk(link, wire, me, meter, speaker, ctrl_c)
                    if mic:
                        talk.from_microphone(mic)
                    else:
                        talk.from_frames(frames_forever(frames, loop))
                    if not ctrl_c.is_set():
                        talk.wait(TAIL_SECONDS)
                if ctrl_c.is_set():
                    meter.say("Stopped.")
        finally:
            # Removed or ended: there is no microphone left to turn off.
            with contextlib.suppress(CliError):
                api.set_mic(url.space_id, False)
    finally:
        for device in (mic, speaker):
            if device is not None:
                device.close()
    return EXIT_OK


class _Talk:
    """Sends frames at real-time pace and, while waiting, handles what the server sends: levels
    for the meter ("the server hears you") and, with --hear, the mix without your voice."""

    def __init__(
        self, link: AudioLink, wire, me: int | None, meter: Meter, speaker, ctrl_c: threading.Event
    ) -> None:
        self.link = link
        self.wire = wire
        self.me = me
        self.meter = meter
        self.speaker = speaker
        self.ctrl_c = ctrl_c
        self.sent = 0
        self.started = time.monotonic()

    def from_frames(self, frames) -> None:
        start = time.monotonic()
        for i, frame in enumerate(frames):
            if self.ctrl_c.is_set():
                return
            due = start + i * FRAME_SECONDS
            lag = time.monotonic() - due
            if lag > 0.2:  # stalled (a reconnect): carry on from now rather than burst
                start += lag
                due += lag
            self.wait_until(due)
            self.link.send(self.wire.outgoing(frame))
            self.sent += 1

    def from_microphone(self, mic) -> None:
        while not self.ctrl_c.is_set():
            frame = mic.read()  # blocks for about 20 ms: the device paces the stream
            self.link.send(self.wire.outgoing(frame))
            self.sent += 1
            self.wait_until(0)

    def wait(self, seconds: float) -> None:
        self.wait_until(time.monotonic() + seconds)

    def wait_until(self, due: float) -> None:
        """Handles incoming messages until `due` (at least those already arrived)."""
        while not self.ctrl_c.is_set():
            wait = min(POLL_SECONDS, max(0.0, due - time.monotonic()))
            message = self.link.recv(timeout=wait)
            if message is None:
                if time.monotonic() >= due:
                    return
                continue
            self.handle(message)

    def handle(self, message: bytes | str) -> None:
        if isinstance(message, bytes):
            frames, levels = self.wire.incoming(message)  # v2: levels ride in the header
            if self.speaker is not None:
                for frame in frames:
                    self.speaker.write(frame)
            if levels is not None:
                self.show({str(uid): v for uid, v in levels.items()})
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        if isinstance(data, dict) and data.get("type") == "levels":
            self.show(data.get("levels") or {})

    def show(self, levels: dict[str, float]) -> None:
        """The meter: your own level as the server hears it (the loudest, if it does not say
        who you are)."""
        if self.me is not None:
            level = float(levels.get(str(self.me), 0.0))
        else:
            level = max((float(v) for v in levels.values()), default=0.0)
        self.meter.show(level, f"{clock(time.monotonic() - self.started)} the server hears you")
