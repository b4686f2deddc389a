"""The report form (from a profile, a message, a person in a room, or a whole Space)."""

from urllib.parse import urlsplit

from flask import Blueprint, render_template, request

from .. import accounts, messages, reports, rooms
from ..errors import DomainError
from ..extensions import limiter
from ..redirects import same_site_path
from ..web import current_user, get_db, is_htmx, login_required

bp = Blueprint("reports", __name__)


def _subject(db, args) -> dict:
    """What is being reported, from ?space=ID, ?account=USERNAME or ?message=ID."""
    me = current_user()
    subject = {"space_id": None, "account_id": None, "message_id": None, "label": ""}
    space = person = None
    if args.get("space"):
        space = rooms.get(db, _int(args.get("space")))
        subject.update(space_id=space["id"], label=f"the Space “{space['title']}”")
    if args.get("account"):
        person = accounts.by_username(db, args.get("account"))
        subject.update(account_id=person["id"], label=f"@{person['username']}")
    if args.get("message"):
        message = messages.get_message(db, _int(args.get("message")), me["id"])
        person = accounts.get(db, message["sender_id"])
        subject.update(message_id=message["id"], account_id=person["id"], label="a message")
    if not subject["label"]:
        raise DomainError("Say what you are reporting.")
    if space:  # in a Space the room's rules apply, whoever or whatever else the report names
        if person:
            rooms.require(db, space, me, "report", person)
        else:
            rooms.require(db, space, me, "report_space")
    return subject


def _int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError("That link is not valid.") from None
    if not 1 <= number < 2**63:
        raise DomainError("That link is not valid.")
    return number


def _back(source) -> str | None:
    """Where the person was before the whole report page, to send them back after `Send report`:
    the form's `next`, else the page that linked here (a path on this site only)."""
    if source.get("next"):
        return same_site_path(source.get("next"))
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return None if referrer.path == request.path else same_site_path(path)


def _template() -> str:
    """The bare form for the room's report dialog (an htmx GET); the whole page, header and
    docked player included, for a followed link (hx-boost sends HX-Boosted) or a fresh load."""
    boosted = request.headers.get("HX-Boosted") == "true"
    return "_report_form.html" if is_htmx() and not boosted else "report.html"


@bp.route("/reports/new", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def new():
    db = get_db()
    source = request.form if request.method == "POST" else request.args
    subject = _subject(db, source)
    form = {"reason": request.form.get("reason", ""), "details": request.form.get("details", "")}
    template = _template()
    if request.method == "POST":  # the page's form carries it; the room's dialog has none
        back = same_site_path(request.form.get("next"))
    else:
        back = _back(request.args) if template == "report.html" else None
    if request.method == "POST":
        try:
            reports.create(
                db,
                current_user()["id"],
                form["reason"],
                form["details"],
                space_id=subject["space_id"],
                account_id=subject["account_id"],
                message_id=subject["message_id"],
            )
        except DomainError as exc:
            return render_template(
                template,
                subject=subject,
                form=form,
                reasons=reports.REASONS,
                errors={exc.field: exc.message},
                args=source,
                back=back,
            ), exc.status
        return render_template(
            template,
            subject=subject,
            sent=True,
            form={},
            errors={},
            reasons=reports.REASONS,
            args=source,
            back=back,
        )
    return render_template(
        template,
        subject=subject,
        form=form,
        errors={},
        reasons=reports.REASONS,
        args=source,
        back=back,
    )


@bp.get("/reports")
@login_required
def mine():
    return render_template(
        "my_reports.html",
        reports=reports.by_reporter(get_db(), current_user()["id"]),
        reasons=reports.REASONS,
    )
