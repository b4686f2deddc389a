"""Recordings and transcripts of ended Spaces, for their host and admins during retention, and
the host's appeal page."""

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for

from .. import captions_store, moderation, recordings, rooms
from ..errors import DomainError
from ..web import current_user, get_db, login_required

bp = Blueprint("transcripts", __name__)


def _space_for_owner(space_id: int) -> dict:
    """The Space if the person is its host or an admin and its evidence is kept; else 404."""
    db, user = get_db(), current_user()
    space = rooms.get(db, space_id)
    if not (user["is_admin"] or user["id"] == space["host_id"]):
        abort(404)
    if space["purged_at"] is not None:
        abort(404)
    if space["ended_at"] is None and not user["is_admin"]:
        abort(404)
    return space


@bp.get("/spaces/<int:space_id>/recordings/<int:recording_id>.ogg")
@login_required
def recording(space_id: int, recording_id: int):
    _space_for_owner(space_id)
    path = recordings.path_of(get_db(), space_id, recording_id)
    if path is None or not path.exists():
        abort(404)
    download = request.args.get("download") == "1"
    return send_file(
        path,
        mimetype="audio/ogg",
        conditional=True,
        as_attachment=download,
        download_name=f"space-{space_id}-{recording_id}.ogg",
    )


@bp.get("/spaces/<int:space_id>/transcript.<any(vtt, txt):kind>")
@login_required
def transcript(space_id: int, kind: str):
    _space_for_owner(space_id)
    captions = captions_store.for_space(get_db(), space_id)
    if kind == "vtt":
        body, mimetype = captions_store.to_webvtt(captions), "text/vtt"
    else:
        body, mimetype = captions_store.to_text(captions), "text/plain"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="space-{space_id}.{kind}"'},
    )


@bp.route("/appeals/<int:report_id>", methods=["GET", "POST"])
@login_required
def appeal(report_id: int):
    db, user = get_db(), current_user()
    moderation.decision_for_host(db, user, report_id)
    errors, text = {}, request.form.get("text", "")
    if request.method == "POST":
        try:
            moderation.appeal(db, user, report_id, text)
            return redirect(url_for("transcripts.appeal", report_id=report_id))
        except DomainError as exc:
            errors = {exc.field or "text": exc.message}
    report = moderation.decision_for_host(db, user, report_id)
    return render_template(
        "appeal.html",
        report=report,
        errors=errors,
        form={"text": text},
        rules=moderation.RULES,
        # As the domain rule: appealable while the evidence exists, live or ended (not purged).
        kept=report["purged_at"] is None,
    ), (400 if errors else 200)
