"""The `Notifications` page, its count in the navigation, and marking them read."""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import notifications
from ..errors import NotFound
from ..web import current_user, get_db, is_htmx, login_required

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def page():
    user = current_user()
    return render_template("notifications.html", items=notifications.recent(get_db(), user["id"]))


@bp.get("/notifications/count")
@login_required
def count():
    """The navigation link alone: a page asks for it when it is shown again, and once a minute
    while it is shown without a live socket (static/notifications.js)."""
    return render_template(
        "_nav_notifications.html",
        notification_count=notifications.unread_count(get_db(), current_user()["id"]),
    )


@bp.get("/notifications/<int:notification_id>")
@login_required
def open_one(notification_id: int):
    """Following a notification marks it read and goes where it points."""
    item = notifications.get(get_db(), current_user()["id"], notification_id)
    if item is None:
        raise NotFound("There is no such notification.")
    notifications.mark_read(get_db(), current_user()["id"], notification_id)
    return redirect(item["url"])


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    if not notifications.mark_read(get_db(), current_user()["id"], notification_id):
        raise NotFound("There is no such notification.")
    return _back()


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    notifications.mark_all_read(get_db(), current_user()["id"])
    return _back()


@bp.post("/settings/notifications")
@login_required
def settings():
    """The setting `Tell me when people I follow start a Space`."""
    on = request.form.get("follow_spaces") == "on"
    notifications.set_follow_spaces(get_db(), current_user()["id"], on)
    if is_htmx():
        return render_template(
            "_notification_settings.html", follow_spaces=on, notifications_saved=True
        )
    return redirect(url_for("settings.page"))


def _back():
    """The list again (htmx swaps it, with the navigation's count out of band) or the page."""
    if not is_htmx():
        return redirect(url_for("notifications.page"))
    user = current_user()
    db = get_db()
    return render_template(
        "_notifications.html",
        items=notifications.recent(db, user["id"]),
        notification_count=notifications.unread_count(db, user["id"]),
        oob_count=True,
    )
