"""Spaces: lifecycle, presence and roles. Every action asks `policy` and returns a RoomEvent.

Writes run in `BEGIN IMMEDIATE` transactions, so checks (the speaker cap, one live Space per host)
and the writes they guard cannot interleave with another request's.
"""

import json

from sqlite_utils import Database

from . import accounts, blocks, follows, notifications, policy
from . import db as dbm
from .clock import now
from .errors import Conflict, Forbidden, Invalid, NotFound
from .events import RoomEvent
from .policy import Actor

TITLE_MAX, DESCRIPTION_MAX = 70, 280
ON_STAGE = ("host", "speaker")


def validate_text(title: str, description: str) -> tuple[str, str]:
    title = (title or "").strip()
    description = (description or "").strip()
    if not title:
        raise Invalid("Give your Space a title.", "title")
    if len(title) > TITLE_MAX:
        raise Invalid(f"Titles are at most {TITLE_MAX} characters.", "title")
    if len(description) > DESCRIPTION_MAX:
        raise Invalid(f"Descriptions are at most {DESCRIPTION_MAX} characters.", "description")
    return title, description


def validate_policy(value: str) -> str:
    if value not in policy.POLICIES:
        raise Invalid("Choose who can speak.", "speaker_policy")
    return value


def get(db: Database, space_id: int) -> dict:
    space = dbm.one(
        db,
        "SELECT s.*, u.username AS host_username, u.display_name AS host_display_name"
        " FROM spaces s JOIN users u ON u.id = s.host_id WHERE s.id = ?",
        (space_id,),
    )
    if space is None:
        raise NotFound("There is no such Space.")
    return space


def live_space_of(db: Database, host_id: int) -> dict | None:
    return dbm.one(
        db,
        "SELECT * FROM spaces WHERE host_id = ? AND ended_at IS NULL AND scheduled_for IS NULL",
        (host_id,),
    )


def actor(db: Database, space: dict, user: dict | None) -> Actor:
    """How the rules see this person in this Space, read from the database."""
    if user is None:
        return policy.ANONYMOUS
    uid, sid, host_id = user["id"], space["id"], space["host_id"]
    row = (
        dbm.one(
            db,
            "SELECT role, present, requested_at, mic_on, cohost FROM participants"
            " WHERE space_id = ? AND user_id = ?",
            (sid, uid),
        )
        or {}
    )
    present = bool(row.get("present"))
    return Actor(
        user_id=uid,
        is_admin=bool(user.get("is_admin")),
        protected=bool(user.get("protected")),
        role=row.get("role") if present else None,
        requested=present and row.get("requested_at") is not None,
        invited=bool(
            dbm.scalar(
                db, "SELECT 1 FROM space_invites WHERE space_id = ? AND user_id = ?", (sid, uid)
            )
        ),
        removed=bool(
            dbm.scalar(
                db, "SELECT 1 FROM space_removals WHERE space_id = ? AND user_id = ?", (sid, uid)
            )
        ),
        blocked_by_host=uid != host_id and blocks.has_blocked(db, host_id, uid),
        followed_by_host=follows.is_following(db, host_id, uid),
        mic_on=present and bool(row.get("mic_on")),
        cohost=present and bool(row.get("cohost")),
    )


def require(db: Database, space: dict, user: dict, action: str, target: dict | None = None):
    """Raises Forbidden with the rules' reason unless `user` may do `action` (to `target`)."""
    who = actor(db, space, user)
    target_actor = actor(db, space, target) if target is not None else None
    reason = policy.why(who, action, space, target_actor)
    if reason:
        raise Forbidden(reason)
    return who, target_actor


def _user(db: Database, user_id: int) -> dict:
    user = accounts.get(db, user_id)
    if user is None:
        raise NotFound("There is no such person.")
    return user


def _stage_count(db: Database, space_id: int) -> int:
    """Seats taken on stage. The host's seat counts even while the host is away (they keep it)."""
    return dbm.scalar(
        db,
        "SELECT COUNT(*) FROM participants WHERE space_id = ?"
        " AND (role = 'host' OR (present = 1 AND role = 'speaker'))",
        (space_id,),
    )


def _put_on_stage(db: Database, space_id: int, user_id: int) -> None:
    """Inside a write transaction: checks the cap, then makes the person a speaker."""
    if _stage_count(db, space_id) >= policy.SPEAKER_CAP:
        raise Conflict(f"This Space already has {policy.SPEAKER_CAP} people speaking.")
    db.execute(
        "UPDATE participants SET role = 'speaker', requested_at = NULL, mic_on = 0"
        " WHERE space_id = ? AND user_id = ? AND present = 1",
        (space_id, user_id),
    )
    db.execute("DELETE FROM space_invites WHERE space_id = ? AND user_id = ?", (space_id, user_id))


# Lifecycle ----------------------------------------------------------------------------------


def create(
    db: Database,
    host: dict,
    title: str,
    description: str,
    speaker_policy: str,
    allow_guests: bool = True,
) -> dict:
    reason = policy.may_create(Actor(user_id=host["id"], protected=bool(host["protected"])))
    if reason:
        raise Forbidden(reason)
    title, description = validate_text(title, description)
    speaker_policy = validate_policy(speaker_policy)
    t = now()
    with dbm.write(db):
        cur = db.execute(
            "INSERT INTO spaces (host_id, title, description, speaker_policy, allow_guests,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (host["id"], title, description, speaker_policy, int(allow_guests), t),
        )
        take_the_stage(db, cur.lastrowid, host["id"], t)
    return get(db, cur.lastrowid)


def take_the_stage(db: Database, space_id: int, host_id: int, t: float) -> None:
    """Inside a write transaction: the host goes live in `space_id` (a new Space, or a scheduled
    one started) unless already hosting one. Hosting puts you on stage here and nowhere else."""
    if dbm.exists(
        db,
        "SELECT 1 FROM spaces WHERE host_id = ? AND ended_at IS NULL AND scheduled_for IS NULL"
        " AND id != ?",
        (host_id, space_id),
    ):
        raise Conflict("You are already hosting a live Space. End it before starting another.")
    db.execute(
        "UPDATE participants SET present = 0, left_at = ?, role = 'listener', mic_on = 0,"
        " requested_at = NULL WHERE user_id = ? AND present = 1",
        (t, host_id),
    )
    db.execute(
        "INSERT INTO participants (space_id, user_id, role, present, joined_at)"
        " VALUES (?, ?, 'host', 1, ?)",
        (space_id, host_id, t),
    )


def edit(
    db: Database,
    space_id: int,
    user: dict,
    title: str,
    description: str,
    allow_guests: bool | None = None,
) -> RoomEvent:
    """`allow_guests` None leaves it as it is (a client that does not show the box);
    only the host changes it (co-hosts edit the title and description)."""
    space = get(db, space_id)
    require(db, space, user, "edit")
    title, description = validate_text(title, description)
    keep = allow_guests is None or user["id"] != space["host_id"]
    guests = space["allow_guests"] if keep else int(allow_guests)
    db.execute(
        "UPDATE spaces SET title = ?, description = ?, allow_guests = ? WHERE id = ?",
        (title, description, guests, space_id),
    )
    # The title travels with the event: docked players hear of a rename on the audio socket.
    return RoomEvent(space_id, sections=frozenset({"meta"}), extra={"title": title})


def set_policy(db: Database, space_id: int, user: dict, speaker_policy: str) -> RoomEvent:
    space = get(db, space_id)
    require(db, space, user, "set_policy")
    speaker_policy = validate_policy(speaker_policy)
    with dbm.write(db):
        db.execute("UPDATE spaces SET speaker_policy = ? WHERE id = ?", (speaker_policy, space_id))
        # Requests the new policy no longer allows are withdrawn.
        if speaker_policy == "invited":
            db.execute(
                "UPDATE participants SET requested_at = NULL WHERE space_id = ?", (space_id,)
            )
        elif speaker_policy == "following":
            db.execute(
                "UPDATE participants SET requested_at = NULL WHERE space_id = ? AND user_id NOT IN"
                " (SELECT followee_id FROM follows WHERE follower_id = ?)",
                (space_id, space["host_id"]),
            )
    everyone = frozenset(present_user_ids(db, space_id))
    return RoomEvent(space_id, sections=frozenset({"meta", "requests"}), users=everyone)


def end(db: Database, space_id: int, user: dict | None, reason: str = "host") -> RoomEvent:
    """Ends a live Space. `user` None is the system (a restart clean-up)."""
    space = get(db, space_id)
    if user is not None:
        require(db, space, user, "end_for_violation" if reason == "violation" else "end")
    t = now()
    with dbm.write(db):
        if get(db, space_id)["ended_at"] is not None:
            raise Conflict("This Space has already ended.")
        db.execute(
            "UPDATE spaces SET ended_at = ?, ended_reason = ? WHERE id = ?", (t, reason, space_id)
        )
        db.execute(
            "UPDATE participants SET present = 0, left_at = ?, mic_on = 0, requested_at = NULL"
            " WHERE space_id = ? AND present = 1",
            (t, space_id),
        )
    return RoomEvent(
        space_id, sections=frozenset({"ended"}), kind="ended", extra={"reason": reason}
    )


def abandoned(db: Database, away_seconds: float) -> list[int]:
    """Live Spaces whose host has been away (no page open) for longer than `away_seconds`: a
    host whose browser crashed or who walked off must not leave a Space live for good."""
    rows = db.execute(
        "SELECT s.id FROM spaces s JOIN participants p"
        " ON p.space_id = s.id AND p.user_id = s.host_id"
        " WHERE s.ended_at IS NULL AND p.present = 0 AND p.left_at <= ?",
        (now() - away_seconds,),
    )
    return [r[0] for r in rows]


# Presence ----------------------------------------------------------------------------------


def join(db: Database, space_id: int, user: dict) -> RoomEvent:
    """Joins as a listener; an invited person comes straight on stage if there is room.

    The common case is one statement, so the write lock is held only inside SQLite: under churn,
    a transaction spanning several statements held it for tens of milliseconds while its thread
    waited for the GIL between them, and joins queued for seconds behind it.
    """
    space = get(db, space_id)
    who, _ = require(db, space, user, "join")
    uid = user["id"]
    if who.present:
        return RoomEvent(space_id, users=frozenset({uid}))
    role = "host" if uid == space["host_id"] else "listener"
    upsert = (
        "INSERT INTO participants (space_id, user_id, role, present, joined_at)"
        " VALUES (?, ?, ?, 1, ?) ON CONFLICT (space_id, user_id) DO UPDATE SET"
        " role = excluded.role, present = 1, joined_at = excluded.joined_at, left_at = NULL,"
        " requested_at = NULL, mic_on = 0 WHERE present = 0"  # a second tab changes nothing
    )
    params = (space_id, uid, role, now())
    if not (role == "listener" and who.invited):
        db.execute(upsert, params)
        return RoomEvent(space_id, frozenset({"listeners", "stage"}), frozenset({uid}))
    notices: tuple = ()
    with dbm.write(db):  # check-then-write: the speaker cap
        db.execute(upsert, params)
        if _stage_count(db, space_id) < policy.SPEAKER_CAP:
            _put_on_stage(db, space_id, uid)
            notices = ((uid, "You are now a speaker."),)
    return RoomEvent(space_id, frozenset({"listeners", "stage"}), frozenset({uid}), notices)


def leave(db: Database, space_id: int, user_id: int, notice: str | None = None) -> RoomEvent | None:
    """Leaves (button, closed tab, lost connection past the grace period, logging out). The host
    stays host. One statement, for the same reason as `join`. None when they were not there."""
    cursor = db.execute(
        "UPDATE participants SET present = 0, left_at = ?,"
        " role = CASE role WHEN 'host' THEN 'host' ELSE 'listener' END, mic_on = 0,"
        " requested_at = NULL WHERE space_id = ? AND user_id = ? AND present = 1",
        (now(), space_id, user_id),
    )
    if cursor.rowcount == 0:
        return None
    return departure(space_id, user_id, notice)


def departure(space_id: int, user_id: int, notice: str | None = None) -> RoomEvent:
    """The event of someone no longer in a Space: out of every list, their own page told (with
    `notice`), and their sockets closed."""
    return RoomEvent(
        space_id,
        frozenset({"stage", "listeners", "requests"}),
        frozenset({user_id}),
        ((user_id, notice),) if notice else (),
        left=frozenset({user_id}),
    )


LOGGED_OUT = "You logged out, so you left this Space."


def log_out(db: Database, user_id: int) -> list[RoomEvent]:
    """Logging out leaves every Space the person is in: microphone off, out of every list, and
    (once the events are published) every socket of theirs closed."""
    return [
        event
        for space_id in spaces_present_in(db, user_id)
        if (event := leave(db, space_id, user_id, LOGGED_OUT)) is not None
    ]


def spaces_present_in(db: Database, user_id: int) -> list[int]:
    """The live Spaces this person is in now."""
    rows = db.execute(
        "SELECT p.space_id FROM participants p JOIN spaces s ON s.id = p.space_id"
        " WHERE p.user_id = ? AND p.present = 1 AND s.ended_at IS NULL",
        (user_id,),
    )
    return [r[0] for r in rows]


def is_present(db: Database, space_id: int, user_id: int) -> bool:
    return bool(
        dbm.scalar(
            db,
            "SELECT present FROM participants WHERE space_id = ? AND user_id = ?",
            (space_id, user_id),
        )
    )


def present_user_ids(db: Database, space_id: int) -> list[int]:
    rows = db.execute(
        "SELECT user_id FROM participants WHERE space_id = ? AND present = 1", (space_id,)
    )
    return [r[0] for r in rows]


PERSON_JSON = (
    "json_object('user_id', p.user_id, 'role', p.role, 'requested_at', p.requested_at,"
    " 'mic_on', p.mic_on, 'joined_at', p.joined_at, 'username', u.username,"
    " 'display_name', u.display_name, 'cohost', p.cohost, 'picture_version', u.picture_version)"
)
PRESENCE_SQL = f"""
SELECT
  (SELECT json_group_array({PERSON_JSON}) FROM participants p JOIN users u ON u.id = p.user_id
    WHERE p.space_id = :s AND p.present = 1 AND p.role IN ('host', 'speaker')),
  (SELECT json_group_array(json(person)) FROM (
    SELECT {PERSON_JSON} AS person FROM participants p JOIN users u ON u.id = p.user_id
    WHERE p.space_id = :s AND p.present = 1 AND p.role = 'listener'
    ORDER BY p.joined_at LIMIT :shown)),
  (SELECT COUNT(*) FROM participants WHERE space_id = :s AND present = 1 AND role = 'listener'),
  (SELECT json_group_array({PERSON_JSON}) FROM participants p JOIN users u ON u.id = p.user_id
    WHERE p.space_id = :s AND p.present = 1 AND p.requested_at IS NOT NULL),
  (SELECT json_group_array(user_id) FROM space_invites WHERE space_id = :s),
  (SELECT json_group_object(user_id, role) FROM participants WHERE space_id = :s AND present = 1)
"""


def presence(db: Database, space_id: int, listeners_shown: int = 60) -> dict:
    """Who is where, for rendering: host, speakers, listeners (the first few), requests, counts,
    and every present person's role.

    One statement that answers one row of JSON: sqlite3 gives up the GIL for every row it steps,
    and under load each row then waited for the GIL again, so reading 200 roles row by row took
    a second while other threads rendered pages.
    """
    row = db.execute(PRESENCE_SQL, {"s": space_id, "shown": listeners_shown}).fetchone()
    stage, listeners, listener_count, requests, invited, roles = row
    stage = sorted(json.loads(stage), key=lambda r: (r["role"] == "speaker", r["joined_at"]))
    invited = set(json.loads(invited))
    listeners = json.loads(listeners)
    for person in listeners:
        person["invited"] = person["user_id"] in invited
    return {
        "host": [r for r in stage if r["role"] == "host"],
        "speakers": [r for r in stage if r["role"] == "speaker"],
        "listeners": listeners,
        "listener_count": listener_count,
        "requests": sorted(json.loads(requests), key=lambda r: r["requested_at"]),
        "roles": {int(uid): role for uid, role in json.loads(roles).items()},
        # Seats on stage as the cap counts them: the host keeps theirs while away (_stage_count).
        "places_taken": 1 + len(stage) - sum(r["role"] == "host" for r in stage),
    }


# Speaking ----------------------------------------------------------------------------------


def request_to_speak(db: Database, space_id: int, user: dict) -> RoomEvent:
    space = get(db, space_id)
    with dbm.write(db):
        require(db, space, user, "request")
        db.execute(
            "UPDATE participants SET requested_at = ? WHERE space_id = ? AND user_id = ?",
            (now(), space_id, user["id"]),
        )
    return RoomEvent(space_id, frozenset({"requests", "listeners"}), frozenset({user["id"]}))


def cancel_request(db: Database, space_id: int, user: dict) -> RoomEvent:
    space = get(db, space_id)
    require(db, space, user, "cancel_request")
    db.execute(
        "UPDATE participants SET requested_at = NULL WHERE space_id = ? AND user_id = ?",
        (space_id, user["id"]),
    )
    return RoomEvent(space_id, frozenset({"requests", "listeners"}), frozenset({user["id"]}))


def _promote(db: Database, space_id: int, host: dict, target_id: int, action: str) -> RoomEvent:
    space = get(db, space_id)
    target = _user(db, target_id)
    with dbm.write(db):
        require(db, space, host, action, target)
        _put_on_stage(db, space_id, target_id)
    return RoomEvent(
        space_id,
        frozenset({"stage", "listeners", "requests"}),
        frozenset({target_id}),
        ((target_id, "You are now a speaker."),),
    )


def approve(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    return _promote(db, space_id, host, target_id, "approve")


def make_speaker(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    return _promote(db, space_id, host, target_id, "make_speaker")


def accept_invite(db: Database, space_id: int, user: dict) -> RoomEvent:
    space = get(db, space_id)
    with dbm.write(db):
        require(db, space, user, "accept_invite")
        _put_on_stage(db, space_id, user["id"])
    return RoomEvent(
        space_id,
        frozenset({"stage", "listeners", "requests"}),
        frozenset({user["id"]}),
        ((user["id"], "You are now a speaker."),),
    )


def deny(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    space = get(db, space_id)
    require(db, space, host, "deny", _user(db, target_id))
    db.execute(
        "UPDATE participants SET requested_at = NULL WHERE space_id = ? AND user_id = ?",
        (space_id, target_id),
    )
    return RoomEvent(
        space_id,
        frozenset({"requests", "listeners"}),
        frozenset({target_id}),
        ((target_id, f"{_by(space, host)} declined your request to speak."),),
    )


def invite(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    """Invites someone to speak; in the room they accept, elsewhere joining makes them a speaker."""
    space = get(db, space_id)
    require(db, space, host, "invite", _user(db, target_id))
    # The inviter's blocks, and the Space's host's: a co-host invites to the host's Space.
    if blocks.either_blocked(db, host["id"], target_id) or blocks.either_blocked(
        db, space["host_id"], target_id
    ):
        raise Forbidden("You cannot invite this person.")
    cur = db.execute(
        "INSERT OR IGNORE INTO space_invites (space_id, user_id, created_at) VALUES (?, ?, ?)",
        (space_id, target_id, now()),
    )
    told = cur.rowcount and notifications.add(  # once per invitation (issue 18)
        db,
        target_id,
        "invited",
        f"{host['username']} invited you to speak in {space['title']}",
        f"/spaces/{space_id}",
    )
    return RoomEvent(
        space_id,
        frozenset({"listeners"}),
        frozenset({target_id}),
        ((target_id, f"{_by(space, host)} invited you to speak."),),
        extra={"notified": tuple(told or ())},
    )


def cohost_sections(person: Actor) -> frozenset[str]:
    """A co-host leaving the stage stops being co-host (a trigger, migration m007): their page
    loses the host's controls (the Requests list, Edit), which live in these sections."""
    return frozenset({"meta", "requests"}) if person.cohost else frozenset()


def _by(space: dict, actor: dict) -> str:
    """Who a notice says acted: the host, or one of their co-hosts (issue 17)."""
    return "The host" if actor["id"] == space["host_id"] else "A co-host"


def _to_listeners(db: Database, space_id: int, user_id: int) -> None:
    db.execute(
        "UPDATE participants SET role = 'listener', mic_on = 0, requested_at = NULL"
        " WHERE space_id = ? AND user_id = ?",
        (space_id, user_id),
    )


def move_to_listeners(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    space = get(db, space_id)
    _, target = require(db, space, host, "move_to_listeners", _user(db, target_id))
    _to_listeners(db, space_id, target_id)
    return RoomEvent(
        space_id,
        frozenset({"stage", "listeners"}) | cohost_sections(target),
        frozenset({target_id}),
        ((target_id, f"{_by(space, host)} moved you to listeners."),),
    )


def stop_speaking(db: Database, space_id: int, user: dict) -> RoomEvent:
    space = get(db, space_id)
    who, _ = require(db, space, user, "stop_speaking")
    _to_listeners(db, space_id, user["id"])
    return RoomEvent(
        space_id,
        frozenset({"stage", "listeners"}) | cohost_sections(who),
        frozenset({user["id"]}),
        ((user["id"], "You are now a listener."),),
    )


def set_mic(db: Database, space_id: int, user: dict, on: bool) -> RoomEvent:
    space = get(db, space_id)
    require(db, space, user, "mic")
    db.execute(
        "UPDATE participants SET mic_on = ? WHERE space_id = ? AND user_id = ?",
        (int(on), space_id, user["id"]),
    )
    return RoomEvent(space_id, frozenset({"stage"}), frozenset({user["id"]}))


def mute(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    space = get(db, space_id)
    require(db, space, host, "mute", _user(db, target_id))
    db.execute(
        "UPDATE participants SET mic_on = 0 WHERE space_id = ? AND user_id = ?",
        (space_id, target_id),
    )
    return RoomEvent(
        space_id,
        frozenset({"stage"}),
        frozenset({target_id}),
        ((target_id, f"{_by(space, host)} muted your microphone."),),
    )


# Removing and blocking -----------------------------------------------------------------------


def _remove(db: Database, space_id: int, target_id: int) -> None:
    t = now()
    db.execute(
        "INSERT OR IGNORE INTO space_removals (space_id, user_id, created_at) VALUES (?, ?, ?)",
        (space_id, target_id, t),
    )
    db.execute(
        "DELETE FROM space_invites WHERE space_id = ? AND user_id = ?", (space_id, target_id)
    )
    db.execute(
        "UPDATE participants SET present = 0, left_at = ?, role = 'listener', mic_on = 0,"
        " requested_at = NULL WHERE space_id = ? AND user_id = ?",
        (t, space_id, target_id),
    )


def remove(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    space = get(db, space_id)
    with dbm.write(db):
        require(db, space, host, "remove", _user(db, target_id))
        _remove(db, space_id, target_id)
    return RoomEvent(
        space_id,
        frozenset({"stage", "listeners", "requests"}),
        frozenset({target_id}),
        removed=frozenset({target_id}),
    )


def block(db: Database, space_id: int, user: dict, target_id: int) -> RoomEvent:
    """An account block from the room; when the host blocks, the person leaves the Space."""
    space = get(db, space_id)
    require(db, space, user, "block", _user(db, target_id))
    blocks.block(db, user["id"], target_id)
    if user["id"] == space["host_id"]:
        return remove_blocked(db, space, target_id)
    return RoomEvent(space_id, users=frozenset({user["id"]}))


def remove_blocked(db: Database, space: dict, target_id: int) -> RoomEvent:
    with dbm.write(db):
        _remove(db, space["id"], target_id)
    return RoomEvent(
        space["id"],
        frozenset({"stage", "listeners", "requests"}),
        frozenset({target_id}),
        removed=frozenset({target_id}),
    )


def after_account_block(db: Database, blocker_id: int, blocked_id: int) -> list[RoomEvent]:
    """A host's block made anywhere removes the person from that host's live Space."""
    space = live_space_of(db, blocker_id)
    if space is None:
        return []
    present = dbm.scalar(
        db,
        "SELECT present FROM participants WHERE space_id = ? AND user_id = ?",
        (space["id"], blocked_id),
    )
    if not present:
        return []
    return [remove_blocked(db, space, blocked_id)]


def after_settings_change(db: Database, user_id: int) -> list[RoomEvent]:
    """Consent, names and pictures show in rooms; tell the rooms this person is in (the host's
    name is in the room's header too, and an author's on a pinned post)."""
    sections = frozenset({"stage", "listeners", "meta", "pinned"})
    return [
        RoomEvent(space_id, sections, frozenset({user_id}))
        for space_id in spaces_present_in(db, user_id)
    ]


# Undoing a removal ---------------------------------------------------------------------------


def removed_people(db: Database, space_id: int) -> list[dict]:
    """Who the host removed from this Space, latest first, and whether the host also blocked
    them (then only unblocking on their profile lets them back)."""
    return dbm.all_rows(
        db,
        "SELECT u.id AS user_id, u.username, u.display_name, r.created_at,"
        " EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = s.host_id AND b.blocked_id = u.id)"
        " AS blocked FROM space_removals r JOIN users u ON u.id = r.user_id"
        " JOIN spaces s ON s.id = r.space_id WHERE r.space_id = ? ORDER BY r.created_at DESC",
        (space_id,),
    )


def allow_back(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    """Undoes a removal: the person may join this Space again."""
    space = get(db, space_id)
    with dbm.write(db):
        require(db, space, host, "allow_back", _user(db, target_id))
        db.execute(
            "DELETE FROM space_removals WHERE space_id = ? AND user_id = ?", (space_id, target_id)
        )
    return RoomEvent(space_id, frozenset({"requests"}), frozenset({target_id}))


# Discovery -----------------------------------------------------------------------------------


def live_now(db: Database, viewer_id: int, limit: int = 20) -> list[dict]:
    """Live Spaces whose host or a current speaker is someone the viewer follows."""
    spaces = dbm.all_rows(
        db,
        """
        SELECT s.id, s.title, s.host_id, u.username AS host_username,
               u.display_name AS host_display_name, u.picture_version AS host_picture_version,
               (SELECT COUNT(*) FROM participants l WHERE l.space_id = s.id AND l.present = 1
                  AND l.role = 'listener') AS listener_count
        FROM spaces s JOIN users u ON u.id = s.host_id
        WHERE s.ended_at IS NULL AND EXISTS (
            SELECT 1 FROM participants p JOIN follows f ON f.followee_id = p.user_id
            WHERE p.space_id = s.id AND p.present = 1 AND p.role IN ('host', 'speaker')
              AND f.follower_id = :me)
          AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = s.host_id
              AND b.blocked_id = :me) OR (b.blocker_id = :me AND b.blocked_id = s.host_id))
        ORDER BY s.created_at DESC LIMIT :limit
        """,
        {"me": viewer_id, "limit": limit},
    )
    return with_speakers(db, spaces)


def with_speakers(db: Database, spaces: list[dict]) -> list[dict]:
    """Each Space's first ten speakers (name and display name), for lists of live Spaces."""
    for space in spaces:
        space["speakers"] = dbm.all_rows(
            db,
            "SELECT u.username, u.display_name FROM participants p JOIN users u"
            " ON u.id = p.user_id WHERE p.space_id = ? AND p.present = 1 AND p.role = 'speaker'"
            " ORDER BY p.joined_at LIMIT 10",
            (space["id"],),
        )
    return spaces


def live_space_ids(db: Database) -> list[int]:
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM spaces WHERE ended_at IS NULL AND scheduled_for IS NULL"
        )
    ]
