"""Retention at the domain level: every deadline at T−1 s and T+1 s, and the purge proven on the
bytes of a real database file, its WAL and the recording file."""

import functools
import threading
from pathlib import Path

import pytest

from spaces import (
    accounts,
    captions_store,
    migrations,
    moderation,
    recordings,
    reports,
    retention,
    rooms,
)
from spaces import db as dbm
from spaces.errors import Forbidden
from spaces.realtime.recorder import Recorder
from spaces.recordings import recording_path
from testkit.audio import tone_frames

DAY = 24 * 60 * 60
WORD = "xylophonequartz"
OTHER_WORD = "marimbaquasar"


@pytest.fixture
def people(db, make_user):
    admin = make_user("admin")
    accounts.make_admin(db, "admin")
    return {
        "host": make_user("host"),
        "listener": make_user("listener"),
        "admin": accounts.get(db, admin["id"]),
    }


def register_recording(db, space_id: int, path) -> int:
    """A recording row as the audio engine writes it (one per part)."""
    return recordings.add(db, space_id, path, 0.0, created_at=0.0)


def ended_space(db, host, tmp_path, *, clock=None, live_for: float = 3600.0) -> int:
    """A Space with captions and a recording file, ended `live_for` seconds after it started."""
    space = rooms.create(db, host, "Evening show", "Night talk", "everyone")
    captions_store.store_final(db, space["id"], host["id"], 1.0, 2.0, f"hello {WORD}")
    path = tmp_path / f"space-{space['id']}.ogg"
    path.write_bytes(b"OggS fake audio")
    register_recording(db, space["id"], path)
    if clock is not None:
        clock.advance(live_for)
    rooms.end(db, space["id"], host)
    return space["id"]


def kept(db, space_id: int) -> bool:
    """Whether the Space's captions, recording rows and files are all still there."""
    space = rooms.get(db, space_id)
    captions = dbm.scalar(db, "SELECT COUNT(*) FROM captions WHERE space_id = ?", (space_id,))
    paths = recordings.files(db, space_id)
    if space["purged_at"] is None:
        assert captions and paths, "a kept Space must have its captions and recording"
        assert all(Path(p).exists() for p in paths)
        return True
    assert captions == 0
    assert paths == []
    return False


def report_on(db, people, space_id: int) -> int:
    return reports.create(db, people["listener"]["id"], "abuse", "", space_id=space_id)["id"]


def purge_at(db, recordings_dir, clock, when: float) -> list[int]:
    clock.set(when)
    return retention.purge(db, recordings_dir)


# 30 days after the end ---------------------------------------------------------------------------


def test_kept_30_days_after_the_end_then_purged(db, people, clock, tmp_path):
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    end = rooms.get(db, sid)["ended_at"]
    assert retention.deadline(rooms.get(db, sid)) == end + 30 * DAY

    assert purge_at(db, tmp_path, clock, end + 30 * DAY - 1) == []
    assert kept(db, sid)
    assert retention.is_kept(rooms.get(db, sid))

    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == [sid]
    assert not kept(db, sid)
    assert not (tmp_path / f"space-{sid}.ogg").exists()
    assert not retention.is_kept(rooms.get(db, sid))
    assert rooms.get(db, sid)["purged_at"] == clock.now()


def test_the_deadline_counts_from_the_end_not_the_start(db, people, clock, tmp_path):
    start = clock.now()
    sid = ended_space(db, people["host"], tmp_path, clock=clock, live_for=10 * DAY)
    assert purge_at(db, tmp_path, clock, start + 30 * DAY + 1) == []
    assert purge_at(db, tmp_path, clock, start + 40 * DAY - 1) == []
    assert kept(db, sid)
    assert purge_at(db, tmp_path, clock, start + 40 * DAY + 1) == [sid]


# 90 days after a violation decision ------------------------------------------------------------


def violation_found(
    db, people, clock, tmp_path, days: int, rule: str = "abuse"
) -> tuple[int, float, int, float]:
    """An ended Space, reported, and found a violation `days` after it ended: its id, when it
    ended, the report, and when the violation was decided."""
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    end = rooms.get(db, sid)["ended_at"]
    report = report_on(db, people, sid)
    clock.set(end + days * DAY)
    decided = clock.now()
    moderation.decide(db, people["admin"], report, "violation", rule=rule)
    return sid, end, report, decided


def test_violation_keeps_90_days_from_the_decision(db, people, clock, tmp_path):
    sid, end, _, decided = violation_found(db, people, clock, tmp_path, days=5)
    assert rooms.get(db, sid)["violation_at"] == decided
    assert retention.deadline(rooms.get(db, sid)) == decided + 90 * DAY

    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == []
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY - 1) == []
    assert kept(db, sid)
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY + 1) == [sid]
    assert not kept(db, sid)
    assert not (tmp_path / f"space-{sid}.ogg").exists()


def test_violation_found_on_day_29_counts_90_days_from_the_decision(db, people, clock, tmp_path):
    sid, end, _, decided = violation_found(db, people, clock, tmp_path, days=29, rule="spam")
    deadline = retention.deadline(rooms.get(db, sid))
    assert deadline == decided + 90 * DAY == end + 119 * DAY

    # Past end + 30 d and past end + 90 d, still kept: the 90 days run from the decision.
    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == []
    assert purge_at(db, tmp_path, clock, end + 90 * DAY + 1) == []
    assert purge_at(db, tmp_path, clock, deadline - 1) == []
    assert kept(db, sid)
    assert purge_at(db, tmp_path, clock, deadline + 1) == [sid]
    assert not kept(db, sid)


def test_violation_while_live_keeps_90_days_from_the_decision(db, people, clock, tmp_path):
    host = people["host"]
    space = rooms.create(db, host, "Live show", "", "everyone")
    captions_store.store_final(db, space["id"], host["id"], 0.0, 1.0, WORD)
    decided = clock.now()
    report = report_on(db, people, space["id"])
    moderation.decide(db, people["admin"], report, "violation", rule="hate", end_now=True)
    assert retention.deadline(rooms.get(db, space["id"])) == decided + 90 * DAY
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY - 1) == []
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY + 1) == [space["id"]]


def test_no_violation_extends_nothing(db, people, clock, tmp_path):
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    end = rooms.get(db, sid)["ended_at"]
    clock.set(end + 20 * DAY)
    moderation.decide(db, people["admin"], report_on(db, people, sid), "no_violation")
    assert rooms.get(db, sid)["violation_at"] is None
    assert purge_at(db, tmp_path, clock, end + 30 * DAY - 1) == []
    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == [sid]


# Appeals -----------------------------------------------------------------------------------------


def test_an_appeal_by_itself_extends_nothing(db, people, clock, tmp_path):
    sid, _, report, decided = violation_found(db, people, clock, tmp_path, days=10)
    # Appealed on the last day: the appeal is still open when the deadline passes.
    clock.set(decided + 90 * DAY - 10)
    moderation.appeal(db, people["host"], report, "It was a quote.")
    assert retention.deadline(rooms.get(db, sid)) == decided + 90 * DAY

    assert purge_at(db, tmp_path, clock, decided + 90 * DAY - 1) == []
    assert kept(db, sid)
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY + 1) == [sid]
    assert not kept(db, sid)
    assert moderation.get_report(db, report)["state"] == "appealed"


def appeal_resolved(db, people, clock, report: int, end: float, day: int, outcome: str) -> None:
    """The host appeals on day 11 after the end; an admin resolves it on `day`."""
    clock.set(end + 11 * DAY)
    moderation.appeal(db, people["host"], report, "It was a quote.")
    clock.set(end + day * DAY)
    moderation.resolve_appeal(db, people["admin"], report, outcome)


def test_an_overturned_appeal_lifts_the_extension(db, people, clock, tmp_path):
    sid, end, report, _ = violation_found(db, people, clock, tmp_path, days=10)
    appeal_resolved(db, people, clock, report, end, day=20, outcome="overturned")
    assert rooms.get(db, sid)["violation_at"] is None
    assert retention.deadline(rooms.get(db, sid)) == end + 30 * DAY

    assert purge_at(db, tmp_path, clock, end + 30 * DAY - 1) == []
    assert kept(db, sid)
    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == [sid]
    assert not kept(db, sid)


def test_an_appeal_overturned_after_day_30_purges_at_the_next_run(db, people, clock, tmp_path):
    sid, end, report, _ = violation_found(db, people, clock, tmp_path, days=10)
    moderation.appeal(db, people["host"], report, "It was a quote.")
    assert purge_at(db, tmp_path, clock, end + 40 * DAY) == []
    moderation.resolve_appeal(db, people["admin"], report, "overturned")
    assert retention.purge(db, tmp_path) == [sid]
    assert not kept(db, sid)


def test_an_upheld_appeal_keeps_90_days_from_the_decision(db, people, clock, tmp_path):
    sid, end, report, decided = violation_found(db, people, clock, tmp_path, days=10)
    appeal_resolved(db, people, clock, report, end, day=60, outcome="upheld")
    assert rooms.get(db, sid)["violation_at"] == decided
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY - 1) == []
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY + 1) == [sid]


def test_overturning_one_violation_keeps_only_the_standing_ones_extension(
    db, people, clock, tmp_path
):
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    end = rooms.get(db, sid)["ended_at"]
    first, second = report_on(db, people, sid), report_on(db, people, sid)
    clock.set(end + 5 * DAY)
    first_decided = clock.now()
    moderation.decide(db, people["admin"], first, "violation", rule="abuse")
    clock.set(end + 20 * DAY)
    moderation.decide(db, people["admin"], second, "violation", rule="hate")
    moderation.appeal(db, people["host"], second, "Not hateful.")
    moderation.resolve_appeal(db, people["admin"], second, "overturned")

    # The first violation stands, counted from its own decision; the overturned one adds nothing.
    assert rooms.get(db, sid)["violation_at"] == first_decided
    assert purge_at(db, tmp_path, clock, first_decided + 90 * DAY - 1) == []
    assert purge_at(db, tmp_path, clock, first_decided + 90 * DAY + 1) == [sid]


def test_a_violation_changed_to_no_violation_lifts_the_extension(db, people, clock, tmp_path):
    sid, end, report, _ = violation_found(db, people, clock, tmp_path, days=10)
    moderation.decide(db, people["admin"], report, "no_violation", note="Misheard.")
    assert rooms.get(db, sid)["violation_at"] is None
    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == [sid]


def test_no_appeal_once_the_evidence_is_purged(db, people, clock, tmp_path):
    sid, _, report, decided = violation_found(db, people, clock, tmp_path, days=1)
    assert purge_at(db, tmp_path, clock, decided + 90 * DAY + 1) == [sid]
    with pytest.raises(Forbidden):
        moderation.appeal(db, people["host"], report, "Please look again.")
    assert moderation.get_report(db, report)["appealed_at"] is None


# Live Spaces, idempotence, tombstones ----------------------------------------------------------


def test_live_spaces_are_never_purged(db, people, clock, tmp_path):
    host = people["host"]
    space = rooms.create(db, host, "Marathon", "", "everyone")
    captions_store.store_final(db, space["id"], host["id"], 0.0, 1.0, WORD)
    being_recorded = recording_path(tmp_path, space["id"])  # its row is not written yet
    being_recorded.write_bytes(b"OggS live audio")
    assert retention.deadline(rooms.get(db, space["id"])) is None
    assert not retention.is_kept(rooms.get(db, space["id"]))  # nothing to keep: it is live
    report = report_on(db, people, space["id"])
    moderation.decide(db, people["admin"], report, "violation", rule="spam")  # not ended
    for days in (31, 91, 365, 3650):
        assert purge_at(db, tmp_path, clock, space["created_at"] + days * DAY) == []
    assert rooms.get(db, space["id"])["purged_at"] is None
    assert len(captions_store.for_space(db, space["id"])) == 1
    assert being_recorded.exists()


def test_purge_is_idempotent(db, people, clock, tmp_path):
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    end = rooms.get(db, sid)["ended_at"]
    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == [sid]
    first = rooms.get(db, sid)
    assert purge_at(db, tmp_path, clock, end + 31 * DAY) == []
    assert retention.purge(db, tmp_path) == []
    assert rooms.get(db, sid) == first  # purged_at is the first purge's time


def test_purge_survives_a_recording_file_already_gone(db, people, clock, tmp_path):
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    end = rooms.get(db, sid)["ended_at"]
    (tmp_path / f"space-{sid}.ogg").unlink()
    assert purge_at(db, tmp_path, clock, end + 30 * DAY + 1) == [sid]
    assert rooms.get(db, sid)["purged_at"] is not None


def test_purge_only_touches_spaces_past_their_deadline(db, people, make_user, clock, tmp_path):
    old = ended_space(db, people["host"], tmp_path, clock=clock)
    clock.advance(10 * DAY)
    other_host = make_user("otherhost")
    young = ended_space(db, other_host, tmp_path, clock=clock)
    live = rooms.create(db, people["host"], "Still on", "", "everyone")["id"]
    assert purge_at(db, tmp_path, clock, rooms.get(db, old)["ended_at"] + 30 * DAY + 1) == [old]
    assert kept(db, young)
    assert rooms.get(db, live)["ended_at"] is None


def test_the_tombstone_keeps_title_and_times_for_reports(db, people, clock, tmp_path):
    sid = ended_space(db, people["host"], tmp_path, clock=clock)
    report = report_on(db, people, sid)
    before = rooms.get(db, sid)
    purge_at(db, tmp_path, clock, before["ended_at"] + 30 * DAY + 1)
    after = rooms.get(db, sid)
    for key in ("title", "host_id", "created_at", "ended_at", "ended_reason"):
        assert after[key] == before[key]
    assert after["purged_at"] == clock.now()
    row = moderation.get_report(db, report)
    assert row["space_title"] == "Evening show"
    assert row["purged_at"] == clock.now()


# The purge at the byte level -------------------------------------------------------------------


class DataDir:
    """A data directory like the server's: spaces.db in WAL mode and a recordings folder."""

    def __init__(self, root) -> None:
        self.root = root
        self.db_path = root / "spaces.db"
        self.wal_path = root / "spaces.db-wal"
        self.recordings = root / "recordings"
        self.db = dbm.connect(self.db_path)
        migrations.apply(self.db)

    def raw(self) -> tuple[bytes, bytes]:
        """The raw bytes of the database file and of its WAL (empty when there is none)."""
        wal = self.wal_path.read_bytes() if self.wal_path.exists() else b""
        return self.db_path.read_bytes(), wal

    def count(self, word: str) -> tuple[int, int]:
        main, wal = self.raw()
        return main.count(word.encode()), wal.count(word.encode())

    def record(self, space_id: int, seconds: float = 1.0):
        path = recording_path(self.recordings, space_id)
        recorder = Recorder(path)
        for frame in tone_frames(seconds):
            recorder.write(frame)
        recorder.close()
        assert recorder.error is None
        register_recording(self.db, space_id, path)
        return path


def speak(db, space_id: int, user_id: int, word: str, lines: int) -> None:
    for i in range(lines):
        captions_store.store_final(
            db, space_id, user_id, i * 2.0, i * 2.0 + 1.5, f"line {i}: we talk about {word} now"
        )


@pytest.fixture
def data(tmp_path, clock, secure_delete_off_by_default):
    """Its connections start with secure_delete off (as a SQLite built without it would): only
    the app's own pragma can zero the purged words."""
    return DataDir(tmp_path)


def two_spaces(data, clock):
    """A Space to purge (saying WORD) and a younger one to keep (saying OTHER_WORD).

    The first Space's words are in both files: some were checkpointed into spaces.db, more were
    written after and sit in the WAL."""
    db = data.db
    host = accounts.sign_up(db, "host", "correct horse")
    guest = accounts.sign_up(db, "guest", "correct horse")
    doomed = rooms.create(db, host, "Doomed show", "", "everyone")["id"]
    speak(db, doomed, host["id"], WORD, 40)
    assert data.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
    speak(db, doomed, guest["id"], WORD, 40)
    doomed_file = data.record(doomed)
    rooms.end(db, doomed, host)

    clock.advance(20 * DAY)
    kept_space = rooms.create(db, guest, "Kept show", "", "everyone")["id"]
    speak(db, kept_space, guest["id"], OTHER_WORD, 10)
    kept_file = data.record(kept_space)
    rooms.end(db, kept_space, guest)
    return doomed, doomed_file, kept_space, kept_file


def test_purge_removes_the_words_from_the_database_file_and_its_wal(data, clock):
    doomed, doomed_file, kept_space, kept_file = two_spaces(data, clock)
    # A second connection, as the live server's request threads hold while the purge runs.
    reader = dbm.connect(data.db_path)
    seen = captions_store.for_space(reader, doomed)
    assert len(seen) == 80 and WORD in seen[0]["text"]

    in_main, in_wal = data.count(WORD)
    assert in_main > 0, "the test must start with the word in spaces.db"
    assert in_wal > 0, "the test must start with the word in spaces.db-wal"
    assert doomed_file.exists() and doomed_file.stat().st_size > 0

    clock.set(rooms.get(data.db, doomed)["ended_at"] + 30 * DAY + 1)
    assert retention.purge(data.db, data.recordings) == [doomed]

    main, wal = data.raw()
    assert WORD.encode() not in main
    assert WORD.encode() not in wal
    assert not doomed_file.exists()
    # The reader sees the purge; the younger Space is untouched.
    assert captions_store.for_space(reader, doomed) == []
    assert recordings.for_space(reader, doomed) == []
    assert len(captions_store.for_space(reader, kept_space)) == 10
    assert kept_file.exists()
    assert sum(data.count(OTHER_WORD)) > 0
    # The tombstone: title and times stay, with when the purge happened.
    tomb = rooms.get(reader, doomed)
    assert tomb["title"] == "Doomed show"
    assert tomb["created_at"] is not None and tomb["ended_at"] is not None
    assert tomb["purged_at"] == clock.now()
    assert dbm.scalar(data.db, "PRAGMA integrity_check") == "ok"


def test_a_recording_file_whose_row_was_never_written_is_purged_with_its_space(data, clock):
    """The recording's row is written after its file opens, by another thread: after a kill -9,
    or a lock outlasting the row's retries, a part is on disk with no row. No recording file may
    outlive its Space's retention, so it goes with the Space; no other Space's file does."""
    doomed, doomed_file, kept_space, kept_file = two_spaces(data, clock)
    orphan = recording_path(data.recordings, doomed, 1)  # after a restart; the row was lost
    recorder = Recorder(orphan)
    for frame in tone_frames(0.5):
        recorder.write(frame)
    recorder.close()
    lookalike = recording_path(data.recordings, int(f"{doomed}1"))  # another Space's name
    lookalike.write_bytes(b"OggS another Space")
    assert recordings.files(data.db, doomed) == [doomed_file]

    clock.set(rooms.get(data.db, doomed)["ended_at"] + 30 * DAY + 1)
    assert retention.purge(data.db, data.recordings) == [doomed]
    assert not doomed_file.exists()
    assert not orphan.exists()
    assert kept_file.exists() and lookalike.exists()


def test_purge_waits_for_a_reader_holding_an_old_snapshot(data, clock):
    doomed, doomed_file, _, _ = two_spaces(data, clock)
    reader = dbm.connect(data.db_path)
    reader.execute("BEGIN")
    assert dbm.scalar(reader, "SELECT COUNT(*) FROM captions WHERE space_id = ?", (doomed,)) == 80
    # The reader finishes its request a moment after the purge starts.
    finish = threading.Timer(0.3, reader.execute, ("COMMIT",))
    finish.start()
    try:
        clock.set(rooms.get(data.db, doomed)["ended_at"] + 30 * DAY + 1)
        assert retention.purge(data.db, data.recordings) == [doomed]
    finally:
        finish.join()
    main, wal = data.raw()
    assert WORD.encode() not in main and WORD.encode() not in wal
    assert not doomed_file.exists()


def test_a_checkpoint_blocked_by_a_reader_is_finished_by_the_next_run(data, clock, monkeypatch):
    """A reader that outlasts every retry leaves the old pages in the WAL; the next run, which
    has nothing left to purge, must still checkpoint them away."""
    doomed, _, _, _ = two_spaces(data, clock)
    monkeypatch.setattr(
        retention, "checkpoint", functools.partial(retention.checkpoint, attempts=2)
    )
    data.db.execute("PRAGMA busy_timeout = 20")
    reader = dbm.connect(data.db_path)
    reader.execute("BEGIN")
    assert dbm.scalar(reader, "SELECT COUNT(*) FROM captions WHERE space_id = ?", (doomed,)) == 80

    clock.set(rooms.get(data.db, doomed)["ended_at"] + 30 * DAY + 1)
    assert retention.purge(data.db, data.recordings) == [doomed]
    assert data.count(WORD)[1] > 0  # the reader still needs the old pages: they stay for now
    reader.execute("COMMIT")

    assert retention.purge(data.db, data.recordings) == []
    main, wal = data.raw()
    assert WORD.encode() not in main and WORD.encode() not in wal
