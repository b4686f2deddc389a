"""Admins: the report queue, the review page (recording and transcript), decisions, appeals,
and the audit log. Everyone else gets 404 for every URL here."""

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from .. import captions_store, moderation, recordings, reports, stage_history
from ..errors import DomainError
from ..events import notified
from ..web import admin_required, captions_relay, current_user, get_db, publish

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/reports")
@admin_required
def queue():
    state = request.args.get("state") or None
    if state not in (None, *moderation.STATES):
        state = None
    return render_template(
        "admin/queue.html",
        reports=moderation.queue(get_db(), current_user(), state),
        state=state,
        states=moderation.STATES,
        reasons=reports.REASONS,
    )


def _review_context(report_id: int, errors: dict | None = None) -> dict:
    db = get_db()
    report = moderation.get_report(db, report_id)
    context = {
        "report": report,
        "reasons": reports.REASONS,
        "rules": moderation.RULES,
        "states": moderation.STATES,
        "errors": errors or {},
        "speakers": [],
        "captions": [],
        "recordings": [],
    }
    if report["space_id"]:
        context["speakers"] = stage_history.speakers(db, report["space_id"])
        context["captions"] = captions_store.for_space(db, report["space_id"])
        context["recordings"] = recordings.for_space(db, report["space_id"])
    return context


@bp.get("/reports/<int:report_id>")
@admin_required
def review(report_id: int):
    return render_template("admin/review.html", **_review_context(report_id))


@bp.post("/reports/<int:report_id>/decide")
@admin_required
def decide(report_id: int):
    form = request.form
    decision = form.get("decision", "")
    try:
        events = moderation.decide(
            get_db(),
            current_user(),
            report_id,
            "violation" if decision in ("violation", "end_for_violation") else decision,
            rule=form.get("rule", ""),
            note=form.get("note", ""),
            end_now=decision == "end_for_violation",
        )
    except DomainError as exc:
        context = _review_context(report_id, {exc.field or "decision": exc.message})
        return render_template("admin/review.html", **context), exc.status
    for event in events:
        publish(event)
    _host_notified(report_id)
    return redirect(url_for("admin.review", report_id=report_id))


def _host_notified(report_id: int) -> None:
    """The host's notification count updates live after a decision about their Space."""
    host_id = moderation.get_report(get_db(), report_id)["host_id"]
    if host_id:
        publish(notified([host_id]))


@bp.post("/reports/<int:report_id>/appeal")
@admin_required
def resolve_appeal(report_id: int):
    moderation.resolve_appeal(
        get_db(),
        current_user(),
        report_id,
        request.form.get("outcome", ""),
        request.form.get("note", ""),
    )
    _host_notified(report_id)
    return redirect(url_for("admin.review", report_id=report_id))


@bp.get("/audit")
@admin_required
def audit():
    return render_template(
        "admin/audit.html", entries=moderation.audit_log(get_db(), current_user())
    )


@bp.get("/captions.json")
@admin_required
def captions_counters():
    """The caption worker's own counters per speaker stream: what reached the model, and why."""
    relay = captions_relay()
    if relay is None:
        return jsonify(available=False, error="captions are turned off", streams=[])
    counters = relay.worker.counters()
    streams = [
        {"space_id": key[0], "user_id": key[1], **value}
        for key, value in counters.items()
        if isinstance(key, tuple)
    ]
    return jsonify(available=counters["available"], error=counters["error"], streams=streams)


@bp.get("/health")
@admin_required
def health():
    """What admins must know about the running server: recording errors, captions state."""
    captions = captions_relay()
    return render_template(
        "admin/health.html",
        recording_errors=recordings.failures(get_db()),
        captions=captions.status() if captions else {"available": False, "error": "disabled"},
    )
