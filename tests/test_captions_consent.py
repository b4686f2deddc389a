"""Consent, proven by the caption worker's own counters: a speaker who did not consent never
reaches the model, and withdrawing consent mid-Space stops captions within a second."""

import sqlite3
import threading
import time

import pytest
import soundfile as sf
from conftest import SHARED_AUDIO, HttpUser, LiveServer
from websockets.sync.client import connect

pytestmark = [pytest.mark.live, pytest.mark.model]


def stream(server, user, stop: threading.Event) -> None:
    """Sends a WAV (looped) at real-time pace on the user's audio socket until `stop`."""
    audio, _ = sf.read(str(SHARED_AUDIO / "jfk.wav"), dtype="int16")
    pcm = audio.tobytes()
    frames = [pcm[i : i + 640] for i in range(0, len(pcm) - 639, 640)]
    headers = {"Cookie": user.cookie_header(), "Origin": server.url}
    url = server.url.replace("http", "ws") + "/spaces/1/audio"
    with connect(url, additional_headers=headers) as ws:
        start, i = time.monotonic(), 0
        while not stop.is_set():
            ws.send(frames[i % len(frames)])
            i += 1
            time.sleep(max(0.0, start + i * 0.02 - time.monotonic()))


def streams(admin: HttpUser) -> dict[int, dict]:
    import json

    data = json.loads(admin.get("/admin/captions.json"))
    assert data["available"], data
    return {row["user_id"]: row for row in data["streams"]}


def test_only_consenting_speakers_reach_the_model_and_revoking_stops_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    server = LiveServer(data, CAPTIONS="1").start()
    stop = threading.Event()
    try:
        admin = HttpUser(server.url, "watcher")
        with sqlite3.connect(data / "spaces.db") as db:
            db.execute("UPDATE users SET is_admin = 1 WHERE username = 'watcher'")
        host = HttpUser(server.url, "quiet_host")
        host.post("/spaces/new", {"title": "Consent", "speaker_policy": "everyone"}, htmx=False)
        host.post("/spaces/1/captions-consent", {"allow": "0"})  # `Not now`
        guest = HttpUser(server.url, "open_guest")
        guest.post("/spaces/1/join")
        host.post(f"/spaces/1/people/{guest.id}/make-speaker")
        guest.post("/spaces/1/captions-consent", {"allow": "1"})  # `Allow captions`
        for person in (host, guest):
            person.post("/spaces/1/mic", {"on": "1"})
        threads = [threading.Thread(target=stream, args=(server, p, stop)) for p in (host, guest)]
        for thread in threads:
            thread.start()
        time.sleep(5)

        counters = streams(admin)
        assert host.id not in counters, "a speaker who did not consent reached the caption worker"
        assert counters[guest.id]["frames_model"] > 100
        assert counters[guest.id]["model_calls"] > 0

        # The guest withdraws consent in Settings while speaking.
        guest.post(
            "/settings",
            {"display_name": "open_guest", "bio": "", "caption_consent": ""},
            htmx=False,
        )
        time.sleep(1.0)
        fed_after_one_second = streams(admin)[guest.id]["frames_fed"]
        time.sleep(2.0)
        assert streams(admin)[guest.id]["frames_fed"] == fed_after_one_second
        assert host.id not in streams(admin)
    finally:
        stop.set()
        server.stop()
