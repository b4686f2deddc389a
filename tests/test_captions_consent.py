"""Consent, proven by the caption worker's own counters: a speaker who did not consent never
reaches the model, and withdrawing consent mid-Space stops captions within a second."""

import json
import sqlite3
import time

import pytest

from testkit.audio import speech
from testkit.http_user import HttpUser
from testkit.server import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.model]


def streams(admin: HttpUser) -> dict[int, dict]:
    data = json.loads(admin.get("/admin/captions.json"))
    assert data["available"], data
    return {row["user_id"]: row for row in data["streams"]}


def test_only_consenting_speakers_reach_the_model_and_revoking_stops_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    server = LiveServer(data, CAPTIONS="1").start()
    mouths = []
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
        # Each speaks a WAV, looped, at real-time pace.
        mouths = [p.speak("/spaces/1/audio", speech("jfk")) for p in (host, guest)]
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
        for mouth in mouths:
            mouth.stop()
        server.stop()
