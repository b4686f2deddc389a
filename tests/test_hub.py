"""The live hub in-process (spaces/realtime/hub.py): who keeps a room socket, who gets captions,
and what someone who is out is told. The outbox here only notes what was pushed and how it
closed; test_live.py and test_authz_sockets.py run the same against a real server."""

import pytest

from spaces import accounts, blocks, policy, rooms
from spaces import db as dbm
from spaces.realtime.close_codes import LEFT, REMOVED, RESTART
from testkit.html_query import parse

ROOM_STATE = ("space-meta", "stage", "listeners", "requests", "captions")


class NotingOutbox:
    """Stands in for a socket's outbox: the HTML pushed, and the close."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed: tuple[int, str] | None = None

    @property
    def dead(self) -> bool:
        return self.closed is not None

    def push(self, data: bytes) -> bool:
        if self.dead:
            return False
        n = data[1] & 0x7F
        start = {126: 4, 127: 10}.get(n, 2)
        self.texts.append(data[start:].decode())
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = self.closed or (code, reason)

    def room_state(self) -> set[str]:
        return {p for t in self.texts for p in ROOM_STATE if parse(t).by_id(p) is not None}


@pytest.fixture
def room(app, app_db):
    """A live Space with a host and two listeners who turned `View captions` on."""
    db = app_db
    host, fan, friend = (accounts.sign_up(db, n, "correct horse") for n in ("ho", "fan", "fr"))
    space_id = rooms.create(db, host, "Hub", "", "everyone")["id"]
    for person in (fan, friend):
        rooms.join(db, space_id, person)
        accounts.set_view_captions(db, person["id"], True)
    return app.extensions["spaces_hub"], app.extensions["spaces_broker"], db, space_id, host, fan


def page(hub, space_id: int, user: dict) -> tuple:
    """A room page's socket, admitted and sent its full state."""
    box = NotingOutbox()
    conn = hub.admit(space_id, user["id"], box)
    hub.full_state(conn)
    return conn, box


def test_captions_stop_the_moment_someone_leaves_and_the_flush_closes_them(room):
    hub, broker, db, space_id, host, fan = room
    conn, box = page(hub, space_id, fan)
    assert conn in hub.caption_viewers(space_id)
    assert {"stage", "listeners", "captions"} <= box.room_state()

    broker.publish(rooms.leave(db, space_id, fan["id"], "You left this Space."))
    assert conn not in hub.caption_viewers(space_id), "captions before the flush"
    pushed = len(box.texts)
    hub.flush()
    assert box.closed == (LEFT, "left")
    told = parse(box.texts[pushed])
    assert told.by_id("my-controls").buttons() == ["Join this Space"]
    assert told.by_id("room-socket").get("ws-connect") is None
    assert "You left this Space." in told.by_id("status").text
    assert not {p for p in ROOM_STATE if told.by_id(p) is not None}


def test_someone_back_before_the_flush_keeps_their_page_and_captions(room):
    hub, broker, db, space_id, host, fan = room
    conn, box = page(hub, space_id, fan)
    broker.publish(rooms.leave(db, space_id, fan["id"]))
    broker.publish(rooms.join(db, space_id, fan))  # from another tab, at once
    hub.flush()
    assert box.closed is None
    assert conn in hub.caption_viewers(space_id)


def test_a_page_of_someone_not_in_the_space_is_told_and_closed_without_room_state(room):
    hub, broker, db, space_id, host, fan = room
    stranger = accounts.sign_up(db, "stranger", "correct horse")
    conn, box = page(hub, space_id, stranger)
    assert box.closed == (LEFT, "left") and not box.room_state()
    assert conn not in hub.caption_viewers(space_id)

    broker.publish(rooms.remove(db, space_id, host, fan["id"]))
    _, removed = page(hub, space_id, fan)
    assert removed.closed == (REMOVED, "removed") and not removed.room_state()
    assert "The host removed you from this Space." in parse(removed.texts[0]).text

    blocked = accounts.sign_up(db, "blocked", "correct horse")
    blocks.block(db, host["id"], blocked["id"])
    _, box = page(hub, space_id, blocked)
    assert box.closed == (REMOVED, "removed") and not box.room_state()
    assert policy.BLOCKED in parse(box.texts[0]).text


def test_the_ones_still_in_get_captions_and_the_change(room):
    hub, broker, db, space_id, host, fan = room
    fan_conn, _ = page(hub, space_id, fan)
    host_conn, host_box = page(hub, space_id, host)
    assert host_conn not in hub.caption_viewers(space_id)  # the host never turned them on
    broker.publish(rooms.leave(db, space_id, fan["id"]))
    hub.flush()
    listeners = parse(host_box.texts[-1]).by_id("listeners")
    assert listeners is not None and "fan" not in listeners.text and "fr" in listeners.text
    assert host_box.closed is None


def test_each_account_may_hold_a_few_sockets_of_each_kind(make_app):
    app = make_app(SOCKETS_PER_ACCOUNT=2)
    db = dbm.connect(app.config["DATABASE"])
    hub = app.extensions["spaces_hub"]
    host = accounts.sign_up(db, "host", "correct horse")
    space_id = rooms.create(db, host, "Capped", "", "everyone")["id"]
    boxes = [NotingOutbox() for _ in range(3)]
    first, second = (hub.admit(space_id, host["id"], b) for b in boxes[:2])
    assert hub.admit(space_id, host["id"], boxes[2]) is None
    assert hub.admit(space_id, host["id"], NotingOutbox(), kind="audio") is not None
    first.outbox.close()  # closed: its place is free even before its handler ends
    assert hub.admit(space_id, host["id"], boxes[2]) is not None
    hub.disconnect(first)
    hub.disconnect(second)
    assert hub.admit(space_id, host["id"], NotingOutbox()) is not None


def test_a_socket_admitted_once_the_server_is_stopping_is_closed_like_the_others(room):
    """Its request was under way when the server was told to stop: it gets 1012 (the client comes
    back to the next server), not a socket left open until the server is gone."""
    hub, _broker, _db, space_id, host, fan = room
    _conn, before = page(hub, space_id, host)
    hub.close_all()
    late = NotingOutbox()
    assert hub.admit(space_id, fan["id"], late, "audio") is not None
    assert before.closed == late.closed == (RESTART, "restart")


def test_someone_removed_behind_another_changes_flush_is_told_removed_not_left(room):
    """The host blocked them, and a flush for another change comes before the block's own event
    (the database already says so): their page says they were removed, with 4403, not 4404."""
    hub, broker, db, space_id, host, fan = room
    _conn, box = page(hub, space_id, fan)
    rooms.block(db, space_id, host, fan["id"])  # its event not published yet
    broker.publish(rooms.edit(db, space_id, host, "Renamed", ""))
    hub.flush()
    assert box.closed == (REMOVED, "removed")
    assert "The host removed you from this Space." in parse(box.texts[-1]).text
