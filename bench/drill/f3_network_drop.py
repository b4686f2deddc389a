"""F3: a speaker's network drops for 5 s (a proxy that stops moving bytes): the role is kept and
the audio resumes."""

import time
from pathlib import Path

from fanout.room import seat

from testkit.audio import speech
from testkit.server import LiveServer
from testkit.waiting import wait_until

from .kit import Figures, present
from .network import Proxy

OUTAGE = 5.0  # seconds


def run(args, tmp: Path, fig: Figures) -> None:
    server = LiveServer(tmp / "f3")
    host, voice, listener = server.people(["f3host", "f3voice", "f3listener"])
    proxy = Proxy(server.port)
    parts = []
    try:
        server.start()
        proxy.start()
        space = host.open_space("F3 flaky network")
        room = f"/spaces/{space}"
        seat(host, [voice], space)
        host.act(room + "/mic", {"on": "0"})  # only the speaker on the flaky network talks
        listener.join(space)
        ear = listener.listen(room + "/audio", keep_text=False)
        # The speaker's room page and microphone both go through the network that drops.
        voice_page = voice.listen(room + "/live", reconnect=True, port=proxy.port)
        mouth = voice.speak(room + "/audio", speech(3), reconnect=True, port=proxy.port)
        parts = [ear, voice_page, mouth]
        time.sleep(4)
        t0 = time.monotonic()
        fig["audible_before"] = ear.count(t0 - 3, t0, audible_only=True) > 0
        proxy.drop()
        time.sleep(OUTAGE)
        fig["listener_fps_during"] = ear.rate(t0 + 0.5, t0 + OUTAGE - 0.5)
        in_outage = present(server, space).get(voice.id)
        back = time.monotonic()
        proxy.restore()
        heard = wait_until(lambda: ear.first_audible_after(back), 10, 0.02)
        reconnected = [t for t in mouth.connects if t >= back]
        fig["outage_s"] = OUTAGE
        fig["role_during_outage"] = in_outage
        fig["reconnect_s"] = reconnected[0] - back if reconnected else None
        fig["audible_after_s"] = heard - back if heard else None
        time.sleep(1)
        after(fig, server, space, voice, voice_page, back, heard)
    finally:
        for part in parts:
            part.stop()
        proxy.stop()
        server.stop()


def after(fig: Figures, server, space: int, voice, voice_page, back: float, heard) -> None:
    """The speaker kept the stage and the microphone, the page says so, and they are heard."""
    role = server.sql(
        "SELECT role, mic_on FROM participants WHERE space_id = ? AND user_id = ?",
        (space, voice.id),
    )
    fig["role_after"] = role[0][0] if role else None
    fig["mic_after"] = bool(role and role[0][1])
    page_back = [x for t, x in voice_page.texts if t >= back and 'id="my-controls"' in x]
    fig["page_says_mic_on"] = bool(page_back) and "Turn off microphone" in page_back[-1]
    fig.check(fig["audible_before"], "the speaker was not heard before the outage")
    fig.check(fig["listener_fps_during"] >= 49, "the listener's stream faltered in the outage")
    fig.check(fig["role_after"] == "speaker" and fig["mic_after"], "the speaker lost the stage")
    fig.check(fig["page_says_mic_on"], "the speaker's page did not come back on stage")
    fig.check(heard is not None and heard - back < 3.0, "audio did not resume within 3 s")
