"""The recordings table: the parts of a Space's mix, listed for review and purged with it."""

from pathlib import Path

import pytest

from spaces import db as dbm
from spaces import recordings, rooms
from spaces.recordings import recording_path


@pytest.fixture
def spaces(db, make_user):
    """Two live Spaces (one per host: a host has one live Space at a time)."""
    return [
        rooms.create(db, make_user(name), f"{name}'s show", "", "everyone")["id"]
        for name in ("alice", "bob")
    ]


def test_a_part_is_written_with_its_file_offset_and_the_time(db, spaces, clock, tmp_path):
    path = tmp_path / "space-1.ogg"
    part = recordings.add(db, spaces[0], path, 12.5)
    row = dbm.one(db, "SELECT * FROM recordings WHERE id = ?", (part,))
    assert row == {
        "id": part,
        "space_id": spaces[0],
        "path": str(path),
        "start_offset": 12.5,
        "created_at": clock.now(),
        "error": None,
    }


def test_parts_are_listed_in_the_order_they_were_recorded(db, spaces, tmp_path):
    first = recordings.add(db, spaces[0], tmp_path / "a.ogg", 0.0)
    recordings.add(db, spaces[1], tmp_path / "other.ogg", 0.0)
    second = recordings.add(db, spaces[0], tmp_path / "b.ogg", 30.0, error="Recording stopped")
    assert recordings.for_space(db, spaces[0]) == [
        {"id": first, "start_offset": 0.0, "error": None},
        {"id": second, "start_offset": 30.0, "error": "Recording stopped"},
    ]
    assert recordings.files(db, spaces[0]) == [tmp_path / "a.ogg", tmp_path / "b.ogg"]


def test_the_next_part_number_counts_the_space_own_parts(db, spaces, tmp_path):
    assert recordings.next_part(db, spaces[0], tmp_path) == 0
    recordings.add(db, spaces[0], tmp_path / "a.ogg", 0.0)
    recordings.add(db, spaces[1], tmp_path / "other.ogg", 0.0)
    assert recordings.next_part(db, spaces[0], tmp_path) == 1
    recordings.add(db, spaces[0], tmp_path / "b.ogg", 10.0)
    assert recordings.next_part(db, spaces[0], tmp_path) == 2
    assert recordings.next_part(db, spaces[1], tmp_path) == 1


def test_the_next_part_never_overwrites_a_file_whose_row_was_never_written(db, spaces, tmp_path):
    """A part's row is written after its file opens, by another thread: after a kill -9 (or a
    lock outlasting the row's retries) the file is there and the row is not."""
    first, second = spaces
    recordings.add(db, first, recording_path(tmp_path, first, 0), 0.0)
    recording_path(tmp_path, first, 1).write_bytes(b"OggS")  # its row was never written
    assert recordings.next_part(db, first, tmp_path) == 2
    recording_path(tmp_path, second, 0).write_bytes(b"OggS")  # the Space's only file, no row
    assert recordings.next_part(db, second, tmp_path) == 1
    assert recordings.next_part(db, first, tmp_path / "not-made-yet") == 1  # rows only


def test_a_space_parts_on_disk_are_found_by_name_and_no_other(spaces, tmp_path):
    space = spaces[0]
    mine = [recording_path(tmp_path, space, part) for part in (0, 1, 12)]
    others = [
        recording_path(tmp_path, int(f"{space}1"), 0),  # space-11 is not space-1
        recording_path(tmp_path, space + 1, 1),
        tmp_path / f"space-{space}.ogg.bak",
        tmp_path / f"space-{space}.part01.ogg",
    ]
    for path in mine + others:
        path.write_bytes(b"OggS")
    assert recordings.parts_on_disk(tmp_path, space) == {0: mine[0], 1: mine[1], 12: mine[2]}


def test_a_part_is_found_only_under_its_own_space(db, spaces, tmp_path):
    part = recordings.add(db, spaces[0], tmp_path / "a.ogg", 0.0)
    assert recordings.path_of(db, spaces[0], part) == tmp_path / "a.ogg"
    assert recordings.path_of(db, spaces[1], part) is None
    assert recordings.path_of(db, spaces[0], part + 1) is None


def test_a_failed_part_is_listed_among_the_failures_newest_first(db, spaces, tmp_path):
    full_disk = tmp_path / "a.ogg"
    recordings.add(db, spaces[0], full_disk, 0.0)
    recordings.add(db, spaces[0], tmp_path / "fine.ogg", 5.0)
    recordings.add(db, spaces[1], tmp_path / "b.ogg", 0.0, error="Recording stopped: later")
    assert recordings.failures(db) == [
        {
            "space_id": spaces[1],
            "path": str(tmp_path / "b.ogg"),
            "error": "Recording stopped: later",
        }
    ]
    recordings.set_error(db, full_disk, "Recording stopped: No space left on device")
    assert [f["path"] for f in recordings.failures(db)] == [
        str(tmp_path / "b.ogg"),
        str(full_disk),
    ]
    assert recordings.failures(db, limit=1)[0]["space_id"] == spaces[1]
    assert recordings.for_space(db, spaces[0])[0]["error"] == (
        "Recording stopped: No space left on device"
    )


def test_deleting_a_space_parts_leaves_other_spaces_alone(db, spaces, tmp_path):
    recordings.add(db, spaces[0], tmp_path / "a.ogg", 0.0)
    recordings.add(db, spaces[0], tmp_path / "b.ogg", 30.0)
    kept = recordings.add(db, spaces[1], tmp_path / "c.ogg", 0.0)
    recordings.delete_for_space(db, spaces[0])
    assert recordings.for_space(db, spaces[0]) == []
    assert recordings.files(db, spaces[0]) == []
    assert recordings.next_part(db, spaces[0], tmp_path) == 0
    assert recordings.for_space(db, spaces[1]) == [{"id": kept, "start_offset": 0.0, "error": None}]
    assert recordings.files(db, spaces[1]) == [Path(tmp_path / "c.ogg")]
