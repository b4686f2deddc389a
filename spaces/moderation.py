"""Moderation: the admins' report queue, decisions, appeals, and the audit log.

A violation marks the Space (`violation_at`), which extends how long its evidence is kept (see
retention.py). Hosts hear of decisions by a direct message from the system account.
"""

from sqlite_utils import Database

from . import db as dbm
from . import messages, notifications, reports, rooms
from .clock import now
from .errors import Conflict, Forbidden, Invalid, NotFound
from .events import RoomEvent
from .form_text import form_text

STATES = {
    "open": "Open",
    "violation": "Violation",
    "no_violation": "No violation",
    "appealed": "Appealed",
}
# The rules a decision cites are the reasons a report gives; "Other" reads "Other rules" there.
RULES = {**reports.REASONS, "other": "Other rules"}
NOTE_MAX, APPEAL_MAX = 1000, 2000

_REPORT_SELECT = """
    SELECT r.*, reporter.username AS reporter_username, s.title AS space_title,
           s.host_id, host.username AS host_username, s.created_at AS space_created_at,
           s.ended_at AS space_ended_at, s.ended_reason, s.violation_at, s.purged_at,
           account.username AS account_username
    FROM reports r
    JOIN users reporter ON reporter.id = r.reporter_id
    LEFT JOIN spaces s ON s.id = r.space_id
    LEFT JOIN users host ON host.id = s.host_id
    LEFT JOIN users account ON account.id = r.account_id
"""


def _require_admin(admin: dict) -> None:
    if not admin or not admin.get("is_admin"):
        raise NotFound("There is nothing here.")


def audit(
    db: Database,
    actor_id: int | None,
    action: str,
    *,
    report_id=None,
    space_id=None,
    detail: str = "",
) -> None:
    db.execute(
        "INSERT INTO audit_log (at, actor_id, action, report_id, space_id, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (now(), actor_id, action, report_id, space_id, detail),
    )


def queue(db: Database, admin: dict, state: str | None = None, limit: int = 200) -> list[dict]:
    _require_admin(admin)
    if state and state not in STATES:
        raise Invalid("Unknown state.")
    where = " WHERE r.state = ?" if state else ""
    params = (state, limit) if state else (limit,)
    return dbm.all_rows(db, _REPORT_SELECT + where + " ORDER BY r.id DESC LIMIT ?", params)


def get_report(db: Database, report_id: int) -> dict:
    report = dbm.one(db, _REPORT_SELECT + " WHERE r.id = ?", (report_id,))
    if report is None:
        raise NotFound("There is no such report.")
    return report


def decide(
    db: Database,
    admin: dict,
    report_id: int,
    decision: str,
    *,
    rule: str = "",
    note: str = "",
    end_now: bool = False,
) -> list[RoomEvent]:
    """`no_violation` or `violation` (with a rule). A violation can end a live Space at once."""
    _require_admin(admin)
    if decision not in ("no_violation", "violation"):
        raise Invalid("Choose No violation or Violation.", "decision")
    note = form_text(note, "note", most=NOTE_MAX, plural="Notes")
    if decision == "violation" and rule not in RULES:
        raise Invalid("Choose the rule that was broken.", "rule")
    report = get_report(db, report_id)
    if report["state"] == "appealed":
        raise Conflict("This decision is under appeal: uphold or overturn it instead.")
    t = now()
    events: list[RoomEvent] = []
    with dbm.write(db):
        db.execute(
            "UPDATE reports SET state = ?, rule = ?, note = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ?",
            (decision, rule if decision == "violation" else None, note, t, admin["id"], report_id),
        )
        audit(
            db,
            admin["id"],
            decision,
            report_id=report_id,
            space_id=report["space_id"],
            detail=f"{RULES.get(rule, '')} {note}".strip(),
        )
        if report["space_id"]:
            _count_retention_from_standing_violations(db, report["space_id"])
    if decision == "violation" and report["space_id"]:
        space = rooms.get(db, report["space_id"])
        if end_now and space["ended_at"] is None:
            events.append(rooms.end(db, space["id"], admin, reason="violation"))
            audit(db, admin["id"], "end_for_violation", report_id=report_id, space_id=space["id"])
        _tell_host(db, space, report_id, rule, note)
    return events


def _count_retention_from_standing_violations(db: Database, space_id: int) -> None:
    """`violation_at` is the latest decision among the Space's standing violations (violation or
    appealed), or NULL when none stands: an overturned or reversed violation extends nothing."""
    db.execute(
        "UPDATE spaces SET violation_at = (SELECT MAX(decided_at) FROM reports"
        " WHERE space_id = :s AND state IN ('violation', 'appealed'))"
        " WHERE id = :s AND purged_at IS NULL",
        {"s": space_id},
    )


def end_for_violation(db: Database, admin: dict, report_id: int, rule: str, note: str = ""):
    return decide(db, admin, report_id, "violation", rule=rule, note=note, end_now=True)


def system_user_id(db: Database) -> int:
    return dbm.scalar(db, "SELECT id FROM users WHERE is_system = 1 ORDER BY id LIMIT 1")


def _tell_host(db: Database, space: dict, report_id: int, rule: str, note: str) -> None:
    text = (
        f"Your Space “{space['title']}” broke our rules ({RULES[rule]})."
        + (f" Note from the reviewer: {note}" if note else "")
        + " You can appeal this decision once while the recording is kept."
    )
    messages.send(db, system_user_id(db), space["host_id"], text, f"/appeals/{report_id}")
    notifications.add(  # issue 18: the navigation's count tells them too
        db,
        space["host_id"],
        "report_decision",
        f"A report about your Space {space['title']} was decided.",
        f"/appeals/{report_id}",
    )


def decision_for_host(db: Database, host: dict, report_id: int) -> dict:
    """The decision the host's appeal page shows: a violation found in their Space, standing,
    under appeal, or appealed and settled (the host was told of each). An open report, or one
    found to be no violation, stays between the reporter and the admins: NotFound, as for a
    report that does not exist, so the page shows neither its existence nor the admin's notes."""
    report = get_report(db, report_id)
    found = report["state"] in ("violation", "appealed") or report["appeal_outcome"] is not None
    if report["host_id"] != host["id"] or not found:
        raise NotFound("There is no such report.")
    return report


def appeal(db: Database, host: dict, report_id: int, text: str) -> None:
    """The host appeals a violation once, while the evidence is kept."""
    report = get_report(db, report_id)
    if report["host_id"] != host["id"]:
        raise NotFound("There is no such report.")
    if report["state"] != "violation" or report["appealed_at"] is not None:
        raise Conflict("This decision cannot be appealed (again).")
    if report["purged_at"] is not None:
        raise Forbidden("The recording of this Space is gone, so it can no longer be appealed.")
    text = form_text(
        text, "text", most=APPEAL_MAX, plural="Appeals", empty="Say why the decision is wrong."
    )
    with dbm.write(db):
        db.execute(
            "UPDATE reports SET state = 'appealed', appeal_text = ?, appealed_at = ? WHERE id = ?",
            (text, now(), report_id),
        )
        audit(db, host["id"], "appeal", report_id=report_id, space_id=report["space_id"])


def resolve_appeal(db: Database, admin: dict, report_id: int, outcome: str, note: str = "") -> None:
    """Upheld: the violation stands. Overturned: it is lifted, and so is the longer retention."""
    _require_admin(admin)
    if outcome not in ("upheld", "overturned"):
        raise Invalid("Choose Uphold or Overturn.")
    report = get_report(db, report_id)
    if report["state"] != "appealed":
        raise Conflict("There is no open appeal on this report.")
    with dbm.write(db):
        state = "violation" if outcome == "upheld" else "no_violation"
        db.execute(
            "UPDATE reports SET state = ?, appeal_outcome = ?, appeal_decided_at = ? WHERE id = ?",
            (state, outcome, now(), report_id),
        )
        if report["space_id"]:
            _count_retention_from_standing_violations(db, report["space_id"])
        audit(
            db,
            admin["id"],
            f"appeal_{outcome}",
            report_id=report_id,
            space_id=report["space_id"],
            detail=note,
        )
    if report["host_id"]:
        words = (
            "upheld: the decision stands"
            if outcome == "upheld"
            else "overturned: the decision is lifted"
        )
        messages.send(
            db,
            system_user_id(db),
            report["host_id"],
            f"Your appeal about “{report['space_title']}” was {words}.",
        )
        notifications.add(
            db,
            report["host_id"],
            "appeal_outcome",
            f"Your appeal about {report['space_title']} was {outcome}.",
            f"/appeals/{report_id}",
        )


def audit_log(db: Database, admin: dict, limit: int = 500) -> list[dict]:
    _require_admin(admin)
    return dbm.all_rows(
        db,
        "SELECT a.*, u.username AS actor_username FROM audit_log a LEFT JOIN users u"
        " ON u.id = a.actor_id ORDER BY a.id DESC LIMIT ?",
        (limit,),
    )
