"""Moderation over HTTP: the admin queue and review page, decisions, 404 for everyone else,
recordings and transcripts for the host and admins during retention, the ended page, appeals,
and the `purge` and `make-admin` commands."""

import re

import pytest

from spaces import accounts, captions_store, moderation, recordings, retention, rooms
from spaces import db as dbm
from spaces.realtime.recorder import Recorder
from spaces.recordings import recording_path
from testkit.app import Client
from testkit.audio import tone_frames
from testkit.html_query import parse

DAY = 24 * 60 * 60
START = "2027-01-15 08:00 UTC"  # the clock fixture's time, as pages show it


class Scene:
    """A live Space by `host` with `ben` on stage and `ann` listening; two recorded parts, three
    captions, and ann's report of the Space. `admin` is an admin; `stranger` and `otherhost`
    (who hosts a Space of their own) are not."""

    def __init__(self, app, browser) -> None:
        self.app = app
        self.db = dbm.connect(app.config["DATABASE"])
        names = ("host", "ben", "ann", "admin", "stranger", "otherhost")
        for name in names:
            setattr(self, name, browser(name))
        accounts.make_admin(self.db, "admin")
        space = rooms.create(self.db, self.host.user, "Morning show", "Coffee talk", "everyone")
        self.id = space["id"]
        self.url = f"/spaces/{self.id}"
        for person in (self.ben, self.ann):
            rooms.join(self.db, self.id, person.user)
        rooms.make_speaker(self.db, self.id, self.host.user, self.ben.user["id"])
        self.other_space = rooms.create(self.db, self.otherhost.user, "Other show", "", "everyone")
        say = captions_store.store_final
        say(self.db, self.id, self.host.user["id"], 1.0, 2.5, "Welcome to the show")
        say(self.db, self.id, self.ben.user["id"], 65.25, 65.5, "I <disagree> & --> loudly")
        say(self.db, self.id, self.host.user["id"], 3725.0, 3727.0, "Goodbye")
        self.recordings = [self.record(0, 0.0), self.record(1, 30.0)]
        response = self.ann.post(
            "/reports/new",
            data={"space": self.id, "reason": "abuse", "details": "Ben shouted at people"},
        )
        assert response.status_code == 200, response.data
        self.report = dbm.scalar(self.db, "SELECT MAX(id) FROM reports")
        self.review_url = f"/admin/reports/{self.report}"

    def record(self, part: int, offset: float) -> dict:
        path = recording_path(self.app.config["RECORDINGS_DIR"], self.id, part)
        recorder = Recorder(path, start_offset=offset)
        for frame in tone_frames(0.5):
            recorder.write(frame)
        recorder.close()
        rid = recordings.add(self.db, self.id, path, offset, created_at=0)
        return {"id": rid, "path": path, "url": f"/spaces/{self.id}/recordings/{rid}.ogg"}

    def space(self) -> dict:
        return rooms.get(self.db, self.id)

    def report_row(self) -> dict:
        return moderation.get_report(self.db, self.report)

    def end(self) -> None:
        rooms.end(self.db, self.id, self.host.user)

    def purge(self, clock) -> None:
        clock.set(retention.deadline(self.space()) + 1)
        assert retention.purge(self.db, self.app.config["RECORDINGS_DIR"]) == [self.id]
        # Over 30 days on, every session has run out unused: everyone logs in again.
        for name in ("host", "ben", "ann", "admin", "stranger", "otherhost"):
            login = {"username": name, "password": "correct horse"}
            assert getattr(self, name).fill("/login", login).status_code == 302

    def decide(self, who, decision: str, rule: str = "", note: str = ""):
        return who.post(
            f"{self.review_url}/decide",
            data={"decision": decision, "rule": rule, "note": note},
            htmx=False,
        )

    def downloads(self) -> list[str]:
        return [r["url"] for r in self.recordings] + [
            f"/spaces/{self.id}/transcript.vtt",
            f"/spaces/{self.id}/transcript.txt",
        ]


@pytest.fixture
def scene(app, browser, clock):
    return Scene(app, browser)


# The queue ---------------------------------------------------------------------------------------


def queue_items(who, query: str = "") -> list:
    response = who.get(f"/admin/reports{query}")
    assert response.status_code == 200
    doc = parse(response.data)
    assert doc.find("h1").text == "Reports"
    lists = [n for n in doc.iter() if n.get("aria-labelledby") == "reports-heading"]
    return [li for li in lists[0].find_all("li") if "muted" not in li.get("class", "")]


def test_the_queue_lists_reports_newest_first_each_with_a_review_link(scene, clock):
    clock.advance(60)
    scene.ann.post(
        "/reports/new", data={"account": "ben", "reason": "spam", "details": ""}, htmx=False
    )
    newest = dbm.scalar(scene.db, "SELECT MAX(id) FROM reports")
    items = queue_items(scene.admin)
    assert len(items) == 2
    assert [li.links() for li in items] == [
        {"Review": f"/admin/reports/{newest}"},
        {"Review": f"/admin/reports/{scene.report}"},
    ]
    assert "@ben" in items[0].text and "Spam" in items[0].text
    assert "The Space “Morning show” hosted by host" in items[1].text
    assert "Abuse or harassment" in items[1].text
    assert "Open" in items[1].text and "reported by ann" in items[1].text


def test_queue_rows_say_when_and_a_person_reported_in_a_space_reads_as_that_person(scene, clock):
    clock.advance(90)
    scene.ann.post("/reports/new", data={"account": "ben", "space": scene.id, "reason": "spam"})
    items = queue_items(scene.admin)
    assert items[0].text.startswith("@ben in the Space “Morning show” hosted by host · Spam")
    assert "reported by ann on 2027-01-15 08:01 UTC" in items[0].text
    assert items[1].text.startswith("The Space “Morning show” hosted by host · Abuse")
    assert f"reported by ann on {START}" in items[1].text
    newest = dbm.scalar(scene.db, "SELECT MAX(id) FROM reports")
    page = parse(scene.admin.get(f"/admin/reports/{newest}").data)
    assert "About: @ben in the Space “Morning show” hosted by host" in page.text
    assert "Reported by ann on 2027-01-15 08:01 UTC." in page.text


def test_the_review_lists_everyone_who_spoke_with_when_including_those_gone(app, browser, clock):
    host, ben, cat, ann, admin = (browser(n) for n in ("host", "ben", "cat", "ann", "admin"))
    accounts.make_admin(dbm.connect(app.config["DATABASE"]), "admin")
    url = host.post("/spaces/new", data={"title": "Night show"}, htmx=False).headers["Location"]
    for person in (ben, cat):
        person.post(f"{url}/join")
    clock.advance(65)
    host.post(f"{url}/people/{ben.user['id']}/make-speaker")
    clock.advance(60)
    host.post(f"{url}/people/{ben.user['id']}/move-to-listeners")  # back to the listeners
    host.post(f"{url}/people/{cat.user['id']}/make-speaker")
    clock.advance(10)
    cat.post(f"{url}/leave")  # and gone
    ann.post(
        "/reports/new", data={"account": "ben", "space": url.rsplit("/", 1)[1], "reason": "spam"}
    )
    report = dbm.scalar(dbm.connect(app.config["DATABASE"]), "SELECT MAX(id) FROM reports")
    page = parse(admin.get(f"/admin/reports/{report}").data)
    assert page.list_items("speakers-heading") == [
        "host: 0:00–now",
        "ben: 1:05–2:05",
        "cat: 2:05–2:15",
    ]


def test_the_queue_filters_by_state(scene):
    scene.decide(scene.admin, "violation", "abuse")
    assert len(queue_items(scene.admin, "?state=violation")) == 1
    assert queue_items(scene.admin, "?state=open") == []
    assert queue_items(scene.admin, "?state=no_violation") == []
    assert queue_items(scene.admin, "?state=appealed") == []
    assert len(queue_items(scene.admin, "?state=nonsense")) == 1  # unknown: everything
    doc = parse(scene.admin.get("/admin/reports?state=violation").data)
    nav = doc.find("nav", aria_label="Filter by state")
    assert [a.text for a in nav.find_all("a")][:5] == [
        "All",
        "Open",
        "Violation",
        "No violation",
        "Appealed",
    ]
    assert [a.text for a in nav.find_all("a") if a.get("aria-current") == "page"] == ["Violation"]


# The review page ---------------------------------------------------------------------------------


def review(scene) -> object:
    response = scene.admin.get(scene.review_url)
    assert response.status_code == 200
    return parse(response.data)


def test_the_review_page_shows_the_space_recordings_transcript_and_report(scene):
    doc = review(scene)
    content = doc.by_id("content")
    assert doc.find("h1").text == f"Report {scene.report}: Abuse or harassment"
    assert "Ben shouted at people" in doc.find("blockquote").text
    assert "Reported by ann" in content.text
    assert "State: Open" in content.text
    section = doc.find("section", aria_labelledby="space-heading")
    assert doc.by_id("space-heading").text == "Space “Morning show”"
    assert "Host: host" in section.text
    # Made through the domain, so no room events: those captioned are listed, without times.
    assert sorted(doc.list_items("speakers-heading")) == [
        "ben: captioned; times on stage not recorded",
        "host: captioned; times on stage not recorded",
    ]
    assert f"Started {START}" in section.text and "LIVE" in section.text

    players = section.find_all("audio")
    assert [a.get("src") for a in players] == [r["url"] for r in scene.recordings]
    assert all("controls" in a.attrs for a in players)
    assert [a.get("data-start") for a in players] == ["0.0", "30.0"]

    assert doc.list_items("transcript-heading") == [
        "0:01 host: Welcome to the show",
        "1:05 ben: I <disagree> & --> loudly",
        "1:02:05 host: Goodbye",
    ]
    seeks = [b.get("data-seek") for b in section.find_all("button")]
    assert seeks == ["1.0", "65.25", "3725.0"]
    # Caption text is escaped, not markup.
    assert b"I &lt;disagree&gt; &amp; --&gt; loudly" in scene.admin.get(scene.review_url).data


def test_the_review_page_shows_when_and_why_the_space_ended(scene, clock):
    clock.advance(3600)
    scene.decide(scene.admin, "end_for_violation", "abuse")
    section = review(scene).find("section", aria_labelledby="space-heading")
    assert f"Started {START} · ended 2027-01-15 09:00 UTC for breaking the rules" in section.text
    assert "LIVE" not in section.text


def test_the_review_page_of_a_purged_space_says_the_evidence_is_gone(scene, clock):
    scene.end()
    scene.purge(clock)
    doc = review(scene)
    section = doc.find("section", aria_labelledby="space-heading")
    assert "The recording and captions were deleted on" in section.text
    assert section.find_all("audio") == []
    assert doc.by_id("transcript-heading") is None
    assert "Space “Morning show”" in doc.by_id("space-heading").text  # the tombstone


def test_the_decision_buttons(scene):
    decide = review(scene).find("section", aria_labelledby="decide-heading")
    assert decide.buttons() == ["No violation", "Violation", "End for violation"]
    assert [o.text for o in decide.find("select", name="rule").find_all("option")][1:] == list(
        moderation.RULES.values()
    )
    scene.end()
    decide = review(scene).find("section", aria_labelledby="decide-heading")
    assert decide.buttons() == ["No violation", "Violation"]


def test_no_violation(scene):
    response = scene.decide(scene.admin, "no_violation", note="Banter")
    assert response.status_code == 302
    assert response.headers["Location"] == scene.review_url
    assert scene.report_row()["state"] == "no_violation"
    assert "State: No violation" in review(scene).by_id("content").text
    assert scene.space()["ended_at"] is None


def test_violation_needs_a_rule(scene):
    response = scene.decide(scene.admin, "violation", "", "Shouting")
    assert response.status_code == 400
    decide = parse(response.data).find("section", aria_labelledby="decide-heading")
    assert decide.find(role="alert").text == "Choose the rule that was broken."
    assert scene.report_row()["state"] == "open"


def test_violation_tells_the_host_with_the_appeal_link(scene):
    response = scene.decide(scene.admin, "violation", "abuse", "Shouting at 1:05")
    assert response.status_code == 302
    row = scene.report_row()
    assert (row["state"], row["rule"], row["note"]) == ("violation", "abuse", "Shouting at 1:05")
    assert scene.space()["ended_at"] is None
    text = review(scene).by_id("content").text
    assert "State: Violation · Rule: Abuse or harassment · Note: Shouting at 1:05" in text
    page = scene.host.get("/messages/spaces")
    assert page.status_code == 200
    assert f'href="/appeals/{scene.report}"' in page.data.decode()
    assert "Shouting at 1:05" in page.data.decode()
    # The reporter sees the state of their report.
    mine = parse(scene.ann.get("/reports").data).list_items("my-reports")
    assert mine == ["Space “Morning show” · Abuse or harassment · violation"]


def test_end_for_violation_ends_the_space_for_everyone_in_it(scene):
    response = scene.decide(scene.admin, "end_for_violation", "hate", "Slurs")
    assert response.status_code == 302
    space = scene.space()
    assert space["ended_at"] is not None and space["ended_reason"] == "violation"
    for person in (scene.ann, scene.ben, scene.stranger):
        page = person.get(scene.url)
        assert page.status_code == 410
        status = parse(page.data).find(role="status")
        assert status.text == "This Space was ended for breaking the rules."
    host_page = parse(scene.host.get(scene.url).data)
    assert host_page.find(role="status").text == "This Space was ended for breaking the rules."
    admin = accounts.get(scene.db, scene.admin.user["id"])
    actions = [e["action"] for e in moderation.audit_log(scene.db, admin)]
    assert actions == ["end_for_violation", "violation"]


def test_appeals_are_resolved_on_the_review_page(scene):
    scene.end()
    scene.decide(scene.admin, "violation", "abuse")
    scene.host.post(f"/appeals/{scene.report}", data={"text": "I was quoting."}, htmx=False)
    doc = review(scene)
    assert "I was quoting." in doc.by_id("content").text
    decide = doc.find("section", aria_labelledby="decide-heading")
    assert decide.buttons() == ["Uphold", "Overturn"]
    response = scene.admin.post(
        f"{scene.review_url}/appeal", data={"outcome": "overturned", "note": "Fair"}, htmx=False
    )
    assert response.status_code == 302
    row = scene.report_row()
    assert (row["state"], row["appeal_outcome"]) == ("no_violation", "overturned")
    assert "Appeal overturned." in review(scene).by_id("content").text
    bad = scene.admin.post(f"{scene.review_url}/appeal", data={"outcome": "upheld"}, htmx=False)
    assert bad.status_code == 409


def test_the_audit_log_page(scene):
    scene.decide(scene.admin, "end_for_violation", "abuse", "Shouting")
    response = scene.admin.get("/admin/audit")
    assert response.status_code == 200
    entries = parse(response.data).list_items("audit-heading")
    assert len(entries) == 2
    assert "admin · end for violation · report" in entries[0]
    assert (
        "admin · violation · report" in entries[1] and "Abuse or harassment Shouting" in entries[1]
    )


# Admins only -------------------------------------------------------------------------------------


def admin_requests(scene) -> list[tuple[str, str, dict]]:
    review_url = scene.review_url
    return [
        ("GET", "/admin/reports", {}),
        ("GET", "/admin/reports?state=open", {}),
        ("GET", review_url, {}),
        ("GET", "/admin/reports/999", {}),
        ("GET", "/admin/audit", {}),
        ("GET", "/admin/health", {}),
        ("POST", f"{review_url}/decide", {"decision": "no_violation"}),
        ("POST", f"{review_url}/decide", {"decision": "violation", "rule": "abuse"}),
        ("POST", f"{review_url}/decide", {"decision": "end_for_violation", "rule": "abuse"}),
        ("POST", f"{review_url}/appeal", {"outcome": "overturned"}),
    ]


def test_non_admins_get_404_for_every_admin_url_and_action(scene, app):
    anonymous = Client(app)
    anonymous.get("/")  # a visitor's tab, with its CSRF token: refused as a visitor, not a forgery
    people = [scene.host, scene.ben, scene.ann, scene.stranger, scene.otherhost]
    for method, url, data in admin_requests(scene):
        for person in people:
            if method == "GET":
                response = person.get(url)
            else:
                response = person.post(url, data=data, htmx=False)
            assert response.status_code == 404, (person.username, method, url)
            assert "Review" not in response.data.decode()
        if method == "GET":
            response = anonymous.get(url)
        else:
            response = anonymous.post(url, data=data, htmx=False)
        assert response.status_code == 404, ("anonymous", method, url)
    assert scene.report_row()["state"] == "open"
    assert scene.space()["ended_at"] is None
    assert dbm.scalar(scene.db, "SELECT COUNT(*) FROM audit_log") == 0


def test_admins_reach_every_admin_page(scene):
    for method, url, _ in admin_requests(scene):
        if method == "GET" and url != "/admin/reports/999":
            assert scene.admin.get(url).status_code == 200, url
    assert scene.admin.get("/admin/reports/999").status_code == 404


# Recordings and transcripts ----------------------------------------------------------------------


def test_the_host_and_admins_download_during_retention(scene):
    scene.end()
    for person in (scene.host, scene.admin):
        for url in scene.downloads():
            assert person.get(url).status_code == 200, (person.username, url)
    response = scene.host.get(scene.recordings[1]["url"] + "?download=1")
    assert response.mimetype == "audio/ogg"
    assert response.data == scene.recordings[1]["path"].read_bytes()
    assert response.data.startswith(b"OggS")
    assert "attachment" in response.headers["Content-Disposition"]
    player = scene.admin.get(scene.recordings[0]["url"])
    assert "attachment" not in player.headers.get("Content-Disposition", "")
    ranged = scene.admin.get(scene.recordings[0]["url"], headers={"Range": "bytes=0-3"})
    assert (ranged.status_code, ranged.data) == (206, b"OggS")


def test_nobody_else_downloads(scene):
    scene.end()
    for person in (scene.ann, scene.ben, scene.stranger, scene.otherhost):
        for url in scene.downloads():
            assert person.get(url).status_code == 404, (person.username, url)
    # Another host's Space id with this Space's recording id: not theirs either.
    other = f"/spaces/{scene.other_space['id']}/recordings/{scene.recordings[0]['id']}.ogg"
    assert scene.otherhost.get(other).status_code == 404
    assert scene.admin.get(other).status_code == 404


def test_the_host_cannot_download_while_live_but_admins_can_review(scene):
    for url in scene.downloads():
        assert scene.host.get(url).status_code == 404
        assert scene.admin.get(url).status_code == 200


def test_nothing_is_downloadable_after_the_purge(scene, clock):
    scene.end()
    scene.purge(clock)
    for person in (scene.host, scene.admin, scene.ann):
        for url in scene.downloads():
            assert person.get(url).status_code == 404, (person.username, url)
    assert not any(r["path"].exists() for r in scene.recordings)


def test_anonymous_visitors_are_sent_to_sign_in(scene, app):
    scene.end()
    for url in scene.downloads():
        response = app.test_client().get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_the_webvtt_transcript(scene):
    scene.end()
    response = scene.host.get(f"/spaces/{scene.id}/transcript.vtt")
    assert response.mimetype == "text/vtt"
    assert "attachment" in response.headers["Content-Disposition"]
    assert f'filename="space-{scene.id}.vtt"' in response.headers["Content-Disposition"]
    body = response.data.decode()
    assert body.startswith("WEBVTT\n\n")
    cues = body.split("\n\n")[1:]
    cues = [c for c in cues if c.strip()]
    assert len(cues) == 3
    timing = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}$")
    for number, cue in enumerate(cues, 1):
        lines = cue.split("\n")
        assert lines[0] == str(number)
        assert timing.match(lines[1]), lines[1]
        assert re.match(r"^<v [a-z0-9_]+>", lines[2])
        assert "-->" not in lines[2]
    assert cues[0].split("\n")[1:] == [
        "00:00:01.000 --> 00:00:02.500",
        "<v host>Welcome to the show",
    ]
    # A caption shorter than half a second still gets a visible cue; markup is escaped.
    assert cues[1].split("\n")[1:] == [
        "00:01:05.250 --> 00:01:05.750",
        "<v ben>I &lt;disagree&gt; &amp; --&gt; loudly",
    ]
    assert cues[2].split("\n")[1] == "01:02:05.000 --> 01:02:07.000"


def test_the_plain_text_transcript(scene):
    scene.end()
    response = scene.admin.get(f"/spaces/{scene.id}/transcript.txt")
    assert response.mimetype == "text/plain"
    assert f'filename="space-{scene.id}.txt"' in response.headers["Content-Disposition"]
    assert response.data.decode().splitlines() == [
        "[00:00:01] host: Welcome to the show",
        "[00:01:05] ben: I <disagree> & --> loudly",
        "[01:02:05] host: Goodbye",
    ]


# The ended page ----------------------------------------------------------------------------------


def test_the_hosts_ended_page_has_downloads_and_the_deadline(scene):
    scene.end()
    response = scene.host.get(scene.url)
    assert response.status_code == 200
    content = parse(response.data).by_id("content")
    assert content.find("h1").text == "Morning show"
    assert "This Space has ended." in content.text
    deadline = "2027-02-14 08:00 UTC"  # 30 days after the end
    assert f"The recording and transcript are kept until {deadline}, then deleted." in content.text
    links = content.links()
    assert links["Download recording (part 1)"] == scene.recordings[0]["url"] + "?download=1"
    assert links["Download recording (part 2)"] == scene.recordings[1]["url"] + "?download=1"
    assert links["Download transcript"] == f"/spaces/{scene.id}/transcript.vtt"
    assert links["(plain text)"] == f"/spaces/{scene.id}/transcript.txt"
    for href in links.values():
        if "/spaces/" in href:
            assert scene.host.get(href).status_code == 200


def test_the_deadline_after_a_violation_is_90_days_from_the_decision(scene, clock):
    scene.end()
    clock.advance(29 * DAY)
    scene.decide(scene.admin, "violation", "abuse")
    content = parse(scene.host.get(scene.url).data).by_id("content")
    assert "kept until 2027-05-14 08:00 UTC" in content.text  # day 29 + 90 days


def test_others_see_only_that_the_space_has_ended(scene):
    scene.end()
    for person in (scene.ann, scene.ben, scene.stranger, scene.otherhost):
        response = person.get(scene.url)
        assert response.status_code == 410
        html = response.data.decode()
        content = parse(html).by_id("content")
        assert content.find(role="status").text == "This Space has ended."
        # What ended and who hosted it (issue 14); the description and the files stay private.
        assert content.find("h1").text == "Morning show" and "Coffee talk" not in html
        assert "Download" not in html and "transcript" not in html
        assert "kept until" not in html


def test_admins_see_the_ended_page_too(scene):
    scene.end()
    response = scene.admin.get(scene.url)
    assert response.status_code == 200
    assert "Download transcript" in parse(response.data).by_id("content").links()


def test_after_the_purge_the_ended_page_says_so(scene, clock):
    scene.end()
    scene.purge(clock)
    content = parse(scene.host.get(scene.url).data).by_id("content")
    assert "Its recording and captions were deleted on" in content.text
    assert "Download" not in content.text
    assert content.find("h1").text == "Morning show"  # the tombstone


# The appeal page ---------------------------------------------------------------------------------


def test_the_host_appeals_once_on_the_appeal_page(scene):
    scene.end()
    scene.decide(scene.admin, "violation", "abuse", "Shouting")
    url = f"/appeals/{scene.report}"
    page = scene.host.get(url)
    assert page.status_code == 200
    content = parse(page.data).by_id("content")
    assert "Morning show" in content.find("h1").text
    assert "Abuse or harassment" in content.text and "Shouting" in content.text
    assert content.find("textarea", name="text") is not None
    assert content.buttons() == ["Appeal"]

    empty = scene.host.post(url, data={"text": "  "}, htmx=False)
    assert empty.status_code == 400
    assert parse(empty.data).by_id("text-error").text == "Say why the decision is wrong."

    sent = scene.host.post(url, data={"text": "I was quoting a film."}, htmx=False)
    assert sent.status_code == 302 and sent.headers["Location"] == url
    content = parse(scene.host.get(url).data).by_id("content")
    assert "You appealed on" in content.find(role="status").text
    assert content.find("textarea") is None
    again = scene.host.post(url, data={"text": "Again."}, htmx=False)
    assert again.status_code == 400
    assert scene.report_row()["appeal_text"] == "I was quoting a film."


def test_a_violation_on_a_live_space_can_be_appealed(scene):
    scene.decide(scene.admin, "violation", "abuse")
    content = parse(scene.host.get(f"/appeals/{scene.report}").data).by_id("content")
    assert content.find("textarea", name="text") is not None
    assert "can no longer be appealed" not in content.text


def test_the_appeal_page_is_404_for_everyone_else(scene, app):
    scene.decide(scene.admin, "violation", "abuse")
    url = f"/appeals/{scene.report}"
    for person in (scene.ann, scene.ben, scene.stranger, scene.otherhost, scene.admin):
        assert person.get(url).status_code == 404
        assert person.post(url, data={"text": "Let me in"}, htmx=False).status_code == 404
    assert scene.host.get("/appeals/999").status_code == 404
    assert app.test_client().get(url).status_code == 302  # sign in first
    assert scene.report_row()["appealed_at"] is None


def test_the_host_finds_no_appeal_page_for_a_report_that_is_not_a_violation(scene):
    """An open report, or one found not to be a violation, is between the reporter and the
    admins: the host learns nothing of it, nor the admin's notes."""
    url = f"/appeals/{scene.report}"
    assert scene.host.get(url).status_code == 404
    assert scene.host.post(url, data={"text": "Who reported me?"}, htmx=False).status_code == 404
    scene.end()
    scene.decide(scene.admin, "no_violation", note="The reporter holds a grudge")
    page = scene.host.get(url)
    assert page.status_code == 404
    assert "grudge" not in page.get_data(as_text=True)
    assert "Morning show" not in page.get_data(as_text=True)
    assert scene.report_row()["appealed_at"] is None


def test_the_host_still_reads_an_appeal_that_was_overturned(scene):
    scene.end()
    scene.decide(scene.admin, "violation", "abuse", "Shouting")
    url = f"/appeals/{scene.report}"
    scene.host.post(url, data={"text": "I was quoting."}, htmx=False)
    scene.admin.post(f"{scene.review_url}/appeal", data={"outcome": "overturned"}, htmx=False)
    content = parse(scene.host.get(url).data).by_id("content")
    assert "The appeal was overturned." in content.find(role="status").text


def test_no_appeal_after_the_purge(scene, clock):
    scene.end()
    scene.decide(scene.admin, "violation", "abuse")
    scene.purge(clock)
    url = f"/appeals/{scene.report}"
    content = parse(scene.host.get(url).data).by_id("content")
    assert "This decision can no longer be appealed." in content.text
    assert content.find("textarea") is None
    response = scene.host.post(url, data={"text": "Late."}, htmx=False)
    assert response.status_code == 400
    assert scene.report_row()["appealed_at"] is None


# Commands ----------------------------------------------------------------------------------------


def test_the_purge_command_is_idempotent_and_says_what_it_purged(scene, app, clock):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "purged 0 Space(s)"
    scene.end()
    clock.set(scene.space()["ended_at"] + 30 * DAY - 1)
    assert runner.invoke(args=["purge"]).output.strip() == "purged 0 Space(s)"
    clock.set(scene.space()["ended_at"] + 30 * DAY + 1)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"purged 1 Space(s): [{scene.id}]"
    assert scene.space()["purged_at"] == clock.now()
    assert captions_store.for_space(scene.db, scene.id) == []
    assert not any(r["path"].exists() for r in scene.recordings)
    again = runner.invoke(args=["purge"])
    assert (again.exit_code, again.output.strip()) == (0, "purged 0 Space(s)")
    assert rooms.get(scene.db, scene.other_space["id"])["purged_at"] is None  # still live


def test_the_make_admin_command(app, browser):
    bob = browser("bob")
    assert bob.get("/admin/reports").status_code == 404
    runner = app.test_cli_runner()
    result = runner.invoke(args=["make-admin", "bob"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "bob is now an admin"
    assert bob.get("/admin/reports").status_code == 200
    missing = runner.invoke(args=["make-admin", "nobody"])
    assert missing.exit_code != 0
    assert "Error" in missing.output


def test_the_system_account_cannot_sign_in(app, scene):
    system = dbm.one(scene.db, "SELECT username FROM users WHERE is_system = 1")
    for password in ("!", "", "correct horse"):
        response = Client(app).fill(
            "/login", {"username": system["username"], "password": password}
        )
        assert response.status_code == 401
