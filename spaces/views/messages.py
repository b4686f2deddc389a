"""Direct messages: inbox, a conversation, sending, and polling for new ones."""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import accounts, blocks, dm_limit, messages, space_cards
from ..errors import DomainError
from ..web import current_user, get_db, is_htmx, login_required

bp = Blueprint("messages", __name__)


@bp.get("/messages")
@login_required
def inbox():
    return render_template(
        "inbox.html", conversations=messages.conversations(get_db(), current_user()["id"])
    )


def _thread_context(db, me: dict, other: dict, form=None, errors=None) -> dict:
    return {
        "other": other,
        "thread": space_cards.attach(
            db, me["id"], messages.thread(db, me["id"], other["id"]), request.host
        ),
        "can_send": not blocks.either_blocked(db, me["id"], other["id"]),
        "form": form or {},
        "errors": errors or {},
    }


def _render_thread(template: str, username: str):
    db = get_db()
    other = accounts.by_username(db, username)
    return render_template(template, **_thread_context(db, current_user(), other))


@bp.get("/messages/<username>")
@login_required
def conversation(username: str):
    return _render_thread("conversation.html", username)


@bp.get("/messages/<username>/thread")
@login_required
def thread(username: str):
    """The message list alone, polled every few seconds so new messages show up."""
    return _render_thread("_thread.html", username)


@bp.post("/messages/<username>")
@login_required
@dm_limit.one_message
def send(username: str):
    db = get_db()
    me = current_user()
    other = accounts.by_username(db, username)
    form = {"body": request.form.get("body", ""), "link": request.form.get("link", "")}
    try:
        messages.send(db, me["id"], other["id"], form["body"], form["link"])
    except DomainError as exc:
        context = _thread_context(db, me, other, form, {exc.field or "body": exc.message})
        template = "_message_form.html" if is_htmx() else "conversation.html"
        return render_template(template, **context), exc.status
    if is_htmx():
        return render_template("_message_sent.html", **_thread_context(db, me, other))
    return redirect(url_for("messages.conversation", username=other["username"]))


@bp.get("/nav/unread")
@login_required
def unread():
    return render_template(
        "_unread.html", unread_count=messages.unread_count(get_db(), current_user()["id"])
    )
