"""Moderation at the domain level: decisions, ending for a violation, the host's notice, appeals,
the audit log, the queue, and that non-admins find nothing."""

import pytest

from spaces import accounts, blocks, messages, moderation, reports, retention, rooms
from spaces import db as dbm
from spaces.errors import Conflict, Forbidden, Invalid, NotFound

DAY = 24 * 60 * 60


@pytest.fixture
def admin(db, make_user):
    make_user("admin")
    return accounts.make_admin(db, "admin")


@pytest.fixture
def space(db, make_user, clock):
    """A live Space hosted by `host`, with `ann` listening, and a report of it by `ann`."""
    host = make_user("host")
    space = rooms.create(db, host, "Morning show", "Coffee talk", "everyone")
    ann = make_user("ann")
    rooms.join(db, space["id"], ann)
    report = reports.create(db, ann["id"], "abuse", "He shouted at us", space_id=space["id"])
    return {"id": space["id"], "host": host, "ann": ann, "report": report["id"]}


def system_id(db) -> int:
    return dbm.scalar(db, "SELECT id FROM users WHERE is_system = 1")


def notices(db, user_id: int) -> list[dict]:
    """Messages the system account sent to this person, oldest first."""
    return dbm.all_rows(
        db,
        "SELECT m.body, m.link FROM messages m JOIN users u ON u.id = m.sender_id"
        " JOIN conversations c ON c.id = m.conversation_id"
        " WHERE u.is_system = 1 AND (c.user_a = ? OR c.user_b = ?) ORDER BY m.id",
        (user_id, user_id),
    )


def audit_actions(db, admin) -> list[tuple]:
    """(action, actor, report, space) newest first, as admins read the log."""
    return [
        (e["action"], e["actor_username"], e["report_id"], e["space_id"])
        for e in moderation.audit_log(db, admin)
    ]


def end_and_violate(db, admin, space, clock, rule="abuse") -> None:
    rooms.end(db, space["id"], space["host"])
    clock.advance(DAY)
    moderation.decide(db, admin, space["report"], "violation", rule=rule, note="Shouting.")


# Decisions ---------------------------------------------------------------------------------------


def test_a_new_report_is_open(db, space):
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "open"
    assert report["space_title"] == "Morning show"
    assert report["host_username"] == "host"
    assert report["reporter_username"] == "ann"
    assert report["details"] == "He shouted at us"


def test_no_violation(db, admin, space, clock):
    events = moderation.decide(db, admin, space["report"], "no_violation", note="  Banter.  ")
    assert events == []
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "no_violation"
    assert report["rule"] is None
    assert report["note"] == "Banter."
    assert report["decided_at"] == clock.now()
    assert report["decided_by"] == admin["id"]
    space_row = rooms.get(db, space["id"])
    assert space_row["violation_at"] is None
    assert space_row["ended_at"] is None  # nothing happens to the Space
    assert notices(db, space["host"]["id"]) == []
    assert audit_actions(db, admin) == [("no_violation", "admin", space["report"], space["id"])]


def test_violation_with_a_rule_and_a_note(db, admin, space, clock):
    events = moderation.decide(
        db, admin, space["report"], "violation", rule="hate", note="Slurs at 12:30."
    )
    assert events == []
    report = moderation.get_report(db, space["report"])
    assert (report["state"], report["rule"], report["note"]) == (
        "violation",
        "hate",
        "Slurs at 12:30.",
    )
    assert report["decided_at"] == clock.now()
    assert report["decided_by"] == admin["id"]
    space_row = rooms.get(db, space["id"])
    assert space_row["violation_at"] == clock.now()
    assert space_row["ended_at"] is None  # a violation alone does not end the Space
    entry = moderation.audit_log(db, admin)[0]
    assert entry["action"] == "violation"
    assert entry["detail"] == "Hateful conduct Slurs at 12:30."
    assert entry["at"] == clock.now()


@pytest.mark.parametrize("rule", ["", "nonsense", None])
def test_violation_without_a_rule_is_refused(db, admin, space, rule):
    with pytest.raises(Invalid) as exc:
        moderation.decide(db, admin, space["report"], "violation", rule=rule, note="x")
    assert exc.value.field == "rule"
    assert "rule" in exc.value.message
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "open" and report["decided_at"] is None
    assert rooms.get(db, space["id"])["violation_at"] is None
    assert moderation.audit_log(db, admin) == []
    assert notices(db, space["host"]["id"]) == []


@pytest.mark.parametrize("decision", ["", "maybe", "open", "appealed", "end_for_violation"])
def test_unknown_decisions_are_refused(db, admin, space, decision):
    with pytest.raises(Invalid) as exc:
        moderation.decide(db, admin, space["report"], decision, rule="abuse")
    assert exc.value.field == "decision"
    assert moderation.get_report(db, space["report"])["state"] == "open"


def test_notes_have_a_limit(db, admin, space):
    moderation.decide(db, admin, space["report"], "no_violation", note="n" * moderation.NOTE_MAX)
    with pytest.raises(Invalid) as exc:
        moderation.decide(
            db, admin, space["report"], "no_violation", note="n" * (moderation.NOTE_MAX + 1)
        )
    assert exc.value.field == "note"


def test_deciding_a_missing_report_is_not_found(db, admin):
    with pytest.raises(NotFound):
        moderation.decide(db, admin, 999, "no_violation")


def test_a_report_of_an_account_can_be_decided(db, admin, make_user, clock):
    ann, rude = make_user("ann"), make_user("rude")
    report = reports.create(db, ann["id"], "spam", "", account_id=rude["id"])["id"]
    assert moderation.decide(db, admin, report, "violation", rule="spam") == []
    row = moderation.get_report(db, report)
    assert row["state"] == "violation"
    assert row["account_username"] == "rude"
    assert row["space_id"] is None


# Ending for a violation --------------------------------------------------------------------------


def test_end_now_ends_a_live_space_for_violation(db, admin, space, clock):
    events = moderation.decide(
        db, admin, space["report"], "violation", rule="abuse", note="Shouting.", end_now=True
    )
    assert len(events) == 1
    event = events[0]
    assert event.space_id == space["id"]
    assert event.kind == "ended"
    assert "ended" in event.sections
    assert event.extra == {"reason": "violation"}
    row = rooms.get(db, space["id"])
    assert row["ended_at"] == clock.now()
    assert row["ended_reason"] == "violation"
    assert rooms.present_user_ids(db, space["id"]) == []
    assert [a[0] for a in audit_actions(db, admin)] == ["end_for_violation", "violation"]


def test_end_for_violation_is_the_same_decision_with_end_now(db, admin, space):
    events = moderation.end_for_violation(db, admin, space["report"], "violence", "Threats.")
    assert [e.kind for e in events] == ["ended"]
    report = moderation.get_report(db, space["report"])
    assert (report["state"], report["rule"], report["note"]) == (
        "violation",
        "violence",
        "Threats.",
    )
    assert rooms.get(db, space["id"])["ended_reason"] == "violation"


def test_end_now_on_an_ended_space_only_decides(db, admin, space):
    rooms.end(db, space["id"], space["host"])
    events = moderation.decide(db, admin, space["report"], "violation", rule="abuse", end_now=True)
    assert events == []
    assert rooms.get(db, space["id"])["ended_reason"] == "host"
    assert [a[0] for a in audit_actions(db, admin)] == ["violation"]


def test_no_violation_never_ends_the_space(db, admin, space):
    assert moderation.decide(db, admin, space["report"], "no_violation", end_now=True) == []
    assert rooms.get(db, space["id"])["ended_at"] is None


# The host is told --------------------------------------------------------------------------------


def test_the_host_is_told_by_the_system_account_with_the_appeal_link(db, admin, space):
    moderation.decide(db, admin, space["report"], "violation", rule="hate", note="Slurs.")
    system = dbm.one(db, "SELECT * FROM users WHERE is_system = 1")
    assert system is not None and system["password_hash"] == "!"  # nobody can sign in as it
    [notice] = notices(db, space["host"]["id"])
    assert notice["link"] == f"/appeals/{space['report']}"
    assert "Morning show" in notice["body"]
    assert "Hateful conduct" in notice["body"]
    assert "Slurs." in notice["body"]
    assert "appeal" in notice["body"]
    thread = messages.thread(db, space["host"]["id"], system["id"])
    assert [m["sender_id"] for m in thread] == [system["id"]]
    # The reporter hears nothing from the system account about it.
    assert notices(db, space["ann"]["id"]) == []


def test_the_host_is_told_even_after_blocking_the_system_account(db, admin, space):
    blocks.block(db, space["host"]["id"], system_id(db))
    moderation.decide(db, admin, space["report"], "violation", rule="abuse", end_now=True)
    [notice] = notices(db, space["host"]["id"])
    assert notice["link"] == f"/appeals/{space['report']}"


# Appeals -----------------------------------------------------------------------------------------


def test_the_host_appeals_once_with_text(db, admin, space, clock):
    end_and_violate(db, admin, space, clock)
    clock.advance(DAY)
    moderation.appeal(db, space["host"], space["report"], "  I was quoting a film.  ")
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "appealed"
    assert report["appeal_text"] == "I was quoting a film."
    assert report["appealed_at"] == clock.now()
    with pytest.raises(Conflict):
        moderation.appeal(db, space["host"], space["report"], "Again, please.")
    assert moderation.get_report(db, space["report"])["appeal_text"] == "I was quoting a film."
    assert audit_actions(db, admin)[0] == ("appeal", "host", space["report"], space["id"])


def test_an_appeal_needs_text_within_the_limit(db, admin, space, clock):
    end_and_violate(db, admin, space, clock)
    for text in ("", "   ", None):
        with pytest.raises(Invalid) as exc:
            moderation.appeal(db, space["host"], space["report"], text)
        assert exc.value.field == "text"
    with pytest.raises(Invalid) as exc:
        moderation.appeal(db, space["host"], space["report"], "a" * (moderation.APPEAL_MAX + 1))
    assert exc.value.field == "text"
    assert moderation.get_report(db, space["report"])["state"] == "violation"
    moderation.appeal(db, space["host"], space["report"], "a" * moderation.APPEAL_MAX)


def test_only_the_host_can_appeal(db, admin, space, make_user, clock):
    end_and_violate(db, admin, space, clock)
    for person in (space["ann"], make_user("stranger"), admin):
        with pytest.raises(NotFound):
            moderation.appeal(db, person, space["report"], "Not fair.")
    assert moderation.get_report(db, space["report"])["appealed_at"] is None


def test_only_a_violation_can_be_appealed(db, admin, space):
    with pytest.raises(Conflict):  # still open
        moderation.appeal(db, space["host"], space["report"], "Nothing happened yet.")
    moderation.decide(db, admin, space["report"], "no_violation")
    with pytest.raises(Conflict):
        moderation.appeal(db, space["host"], space["report"], "Nothing to appeal.")


def test_an_appeal_while_the_space_is_live(db, admin, space):
    moderation.decide(db, admin, space["report"], "violation", rule="abuse")
    moderation.appeal(db, space["host"], space["report"], "Still live, and wrong.")
    assert moderation.get_report(db, space["report"])["state"] == "appealed"


def test_no_appeal_once_the_evidence_is_purged(db, admin, space, clock, tmp_path):
    end_and_violate(db, admin, space, clock)
    clock.advance(90 * DAY + 1)
    assert retention.purge(db, tmp_path) == [space["id"]]
    with pytest.raises(Forbidden) as exc:
        moderation.appeal(db, space["host"], space["report"], "Too late?")
    assert "no longer" in exc.value.message
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "violation" and report["appealed_at"] is None


def test_the_host_sees_a_decision_only_once_it_is_a_violation(db, admin, space, make_user, clock):
    host, report_id = space["host"], space["report"]
    with pytest.raises(NotFound):  # open: the host does not learn of the report
        moderation.decision_for_host(db, host, report_id)
    moderation.decide(db, admin, report_id, "no_violation", note="The reporter holds a grudge")
    with pytest.raises(NotFound):
        moderation.decision_for_host(db, host, report_id)

    end_and_violate(db, admin, space, clock)
    assert moderation.decision_for_host(db, host, report_id)["rule"] == "abuse"
    moderation.appeal(db, host, report_id, "I was quoting a film.")
    assert moderation.decision_for_host(db, host, report_id)["state"] == "appealed"
    moderation.resolve_appeal(db, admin, report_id, "overturned")
    assert moderation.decision_for_host(db, host, report_id)["appeal_outcome"] == "overturned"
    for someone in (space["ann"], admin, make_user("stranger")):
        with pytest.raises(NotFound):
            moderation.decision_for_host(db, someone, report_id)


def test_a_violation_reversed_without_an_appeal_is_no_longer_shown(db, admin, space, clock):
    end_and_violate(db, admin, space, clock)
    moderation.decide(db, admin, space["report"], "no_violation", note="Misheard.")
    with pytest.raises(NotFound):
        moderation.decision_for_host(db, space["host"], space["report"])


def test_an_upheld_appeal(db, admin, space, clock):
    end_and_violate(db, admin, space, clock)
    decided = clock.now()
    moderation.appeal(db, space["host"], space["report"], "I was quoting a film.")
    clock.advance(DAY)
    moderation.resolve_appeal(db, admin, space["report"], "upheld", "It was not a quote.")
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "violation"
    assert report["appeal_outcome"] == "upheld"
    assert report["appeal_decided_at"] == clock.now()
    assert rooms.get(db, space["id"])["violation_at"] == decided
    last = notices(db, space["host"]["id"])[-1]
    assert "Morning show" in last["body"] and "upheld" in last["body"]
    entry = moderation.audit_log(db, admin)[0]
    assert (entry["action"], entry["detail"]) == ("appeal_upheld", "It was not a quote.")
    # Upheld is final: the host cannot appeal again.
    with pytest.raises(Conflict):
        moderation.appeal(db, space["host"], space["report"], "Once more.")


def test_an_overturned_appeal(db, admin, space, clock):
    end_and_violate(db, admin, space, clock)
    moderation.appeal(db, space["host"], space["report"], "I was quoting a film.")
    moderation.resolve_appeal(db, admin, space["report"], "overturned")
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "no_violation"
    assert report["appeal_outcome"] == "overturned"
    assert rooms.get(db, space["id"])["violation_at"] is None
    last = notices(db, space["host"]["id"])[-1]
    assert "overturned" in last["body"]
    assert moderation.audit_log(db, admin)[0]["action"] == "appeal_overturned"


def test_appeals_are_resolved_only_when_open_and_with_an_outcome(db, admin, space, clock):
    end_and_violate(db, admin, space, clock)
    with pytest.raises(Conflict):
        moderation.resolve_appeal(db, admin, space["report"], "upheld")
    moderation.appeal(db, space["host"], space["report"], "Please.")
    with pytest.raises(Invalid):
        moderation.resolve_appeal(db, admin, space["report"], "maybe")
    moderation.resolve_appeal(db, admin, space["report"], "overturned")
    with pytest.raises(Conflict):
        moderation.resolve_appeal(db, admin, space["report"], "upheld")


# The audit log -----------------------------------------------------------------------------------


def test_every_decision_appeal_and_end_is_in_the_audit_log(db, admin, space, clock):
    moderation.decide(db, admin, space["report"], "violation", rule="abuse", end_now=True)
    clock.advance(60)
    moderation.appeal(db, space["host"], space["report"], "Please.")
    clock.advance(60)
    moderation.resolve_appeal(db, admin, space["report"], "overturned", "Fair point.")
    r, s = space["report"], space["id"]
    assert audit_actions(db, admin) == [
        ("appeal_overturned", "admin", r, s),
        ("appeal", "host", r, s),
        ("end_for_violation", "admin", r, s),
        ("violation", "admin", r, s),
    ]
    times = [e["at"] for e in moderation.audit_log(db, admin)]
    assert times == sorted(times, reverse=True)


# Admins only -------------------------------------------------------------------------------------


def admin_calls(report_id: int):
    return {
        "queue": lambda db, who: moderation.queue(db, who),
        "queue_open": lambda db, who: moderation.queue(db, who, "open"),
        "decide": lambda db, who: moderation.decide(db, who, report_id, "no_violation"),
        "violation": lambda db, who: moderation.decide(
            db, who, report_id, "violation", rule="abuse", end_now=True
        ),
        "end_for_violation": lambda db, who: moderation.end_for_violation(
            db, who, report_id, "abuse"
        ),
        "resolve_appeal": lambda db, who: moderation.resolve_appeal(db, who, report_id, "upheld"),
        "audit_log": lambda db, who: moderation.audit_log(db, who),
    }


@pytest.mark.parametrize("call", list(admin_calls(0)))
@pytest.mark.parametrize("who", ["host", "ann", "stranger", "nobody"])
def test_non_admins_get_not_found_from_every_admin_function(db, space, make_user, call, who):
    people = {"host": space["host"], "ann": space["ann"], "nobody": None}
    person = people[who] if who in people else make_user(who)
    with pytest.raises(NotFound):
        admin_calls(space["report"])[call](db, person)
    report = moderation.get_report(db, space["report"])
    assert report["state"] == "open" and report["decided_at"] is None
    assert rooms.get(db, space["id"])["ended_at"] is None
    assert dbm.scalar(db, "SELECT COUNT(*) FROM audit_log") == 0


# The queue ---------------------------------------------------------------------------------------


def test_the_queue_filters_by_state_newest_first(db, admin, space, make_user, clock):
    ann, bob = space["ann"], make_user("bob")
    ids = {"first": space["report"]}
    for name in ("second", "third", "fourth", "fifth"):
        clock.advance(60)
        ids[name] = reports.create(db, bob["id"], "spam", name, space_id=space["id"])["id"]
    ids["account"] = reports.create(db, ann["id"], "other", "", account_id=bob["id"])["id"]
    moderation.decide(db, admin, ids["second"], "violation", rule="spam")
    moderation.decide(db, admin, ids["third"], "no_violation")
    moderation.decide(db, admin, ids["fourth"], "violation", rule="spam")
    moderation.appeal(db, space["host"], ids["fourth"], "Please.")

    def queue(state=None):
        return [r["id"] for r in moderation.queue(db, admin, state)]

    assert queue() == sorted(ids.values(), reverse=True)
    assert queue("open") == [ids["account"], ids["fifth"], ids["first"]]
    assert queue("violation") == [ids["second"]]
    assert queue("no_violation") == [ids["third"]]
    assert queue("appealed") == [ids["fourth"]]
    with pytest.raises(Invalid):
        moderation.queue(db, admin, "closed")
    row = moderation.queue(db, admin, "appealed")[0]
    assert (row["space_title"], row["host_username"], row["reporter_username"]) == (
        "Morning show",
        "host",
        "bob",
    )


def test_the_queue_is_bounded(db, admin, space):
    for _ in range(5):
        reports.create(db, space["ann"]["id"], "spam", "", space_id=space["id"])
    assert len(moderation.queue(db, admin, limit=3)) == 3


def test_a_missing_report_is_not_found(db):
    with pytest.raises(NotFound):
        moderation.get_report(db, 12345)
