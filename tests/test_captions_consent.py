"""Consent, proven by the caption worker's own counters: a speaker who did not consent never
reaches the model, and withdrawing consent mid-Space stops captions (within a second on an idle
machine; waited for with a generous deadline here)."""

import json
import sqlite3

import pytest

from testkit.audio import speech
from testkit.http_user import HttpUser
from testkit.server import LiveServer
from testkit.waiting import settles, wait_until

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

        def guest_reached_the_model() -> dict | None:
            data = json.loads(admin.get("/admin/captions.json"))  # the model may still load
            counters = {row["user_id"]: row for row in data["streams"]}
            guest_row = counters.get(guest.id, {})
            heard = guest_row.get("frames_model", 0) > 100 and guest_row["model_calls"] > 0
            return counters if data["available"] and heard else None

        counters = wait_until(
            guest_reached_the_model, 60, 0.2, what="the consenting guest reaching the model"
        )
        # The host spoke all along, in the same window in which the guest's 100 frames arrived.
        assert host.id not in counters, "a speaker who did not consent reached the caption worker"
        assert mouths[0].sent > 100

        # The guest withdraws consent in Settings while speaking.
        guest.post(
            "/settings",
            {"display_name": "open_guest", "bio": "", "caption_consent": ""},
            htmx=False,
        )
        speaking = mouths[1].sent
        settles(
            lambda: streams(admin)[guest.id]["frames_fed"],
            quiet=3.0,
            within=15,
            what="frames fed to the caption worker after consent was withdrawn",
        )
        # The guest spoke on all the while: 3 s of frames, none of them fed.
        assert mouths[1].sent - speaking > 100
        assert host.id not in streams(admin)
    finally:
        for mouth in mouths:
            mouth.stop()
        server.stop()
