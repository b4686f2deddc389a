"""Settings: the profile, the password, where you are signed in and the terminal client's tokens.

None of it takes an API token (web.TOKEN_ENDPOINTS): a token here is a signed-out request.
"""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import accounts, notifications, rooms, sessions, tokens
from ..errors import DomainError
from ..extensions import limiter
from ..web import (
    current_user,
    get_db,
    is_htmx,
    login_required,
    publish,
    session_id,
    session_max_age,
)

bp = Blueprint("settings", __name__)

WRONG_PASSWORD = 403  # accounts.change_password's Forbidden: the current password was wrong


def _account_key() -> str:
    user = current_user()
    return f"password-change:{user['id'] if user else '-'}"


def _profile_form(user: dict) -> dict:
    return {
        "display_name": user["display_name"],
        "bio": user["bio"],
        "protected": bool(user["protected"]),
        "caption_consent": user["caption_consent"],  # None: never asked
    }


def _caption_answer(form) -> bool | None:
    """Ticked is yes. Unticked is no, except on a form that showed the question unanswered
    (`caption_consent_unasked`): then nothing was answered, and the `Captions` dialog still asks
    the first time this person speaks."""
    if form.get("caption_consent") == "on":
        return True
    return None if form.get("caption_consent_unasked") else False


def _tokens(db, user: dict) -> dict:
    return {"tokens": tokens.for_user(db, user["id"]), "token_limit": tokens.PER_ACCOUNT}


def _page(status: int = 200, **context):
    """The settings page, as it stands for the signed-in person, with `context` on top. A boosted
    form's answer keeps /settings in the address bar, so a reload shows the page again rather than
    re-sending the form (GET /settings/password would be a 405)."""
    db, user = get_db(), current_user()
    page = {
        "form": _profile_form(user),
        "errors": {},
        "password_errors": {},
        "signed_in": sessions.for_user(
            db, user["id"], max_age=session_max_age(), current=session_id()
        ),
        **_tokens(db, user),
        "follow_spaces": notifications.follow_spaces_on(db, user["id"]),
    }
    page.update(context)
    headers = {"HX-Replace-Url": url_for("settings.page")} if is_htmx() else {}
    return render_template("settings.html", **page), status, headers


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def page():
    if request.method == "GET":
        return _page()
    user = current_user()
    form = {
        "display_name": request.form.get("display_name", ""),
        "bio": request.form.get("bio", ""),
        "protected": request.form.get("protected") == "on",
        "caption_consent": _caption_answer(request.form),
    }
    try:
        accounts.update_settings(get_db(), user["id"], **form)
    except DomainError as exc:
        return _page(400, form=form, errors={exc.field: exc.message})
    for event in rooms.after_settings_change(get_db(), user["id"]):
        publish(event)  # consent and names change in the rooms this person is in
    return _page(form=form, saved=True)


@bp.post("/settings/password")
@login_required
@limiter.limit(
    "5 per 10 minutes",
    key_func=_account_key,
    deduct_when=lambda response: response.status_code == WRONG_PASSWORD,
)
def password():
    """Change password: proves the current one, then ends every other session and every token.
    Wrong current passwords are limited per account, so a borrowed session cannot guess it."""
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        errors = {"new_password_again": "The two new passwords are not the same."}
        return _page(400, password_errors=errors)
    try:
        accounts.change_password(
            get_db(),
            current_user()["id"],
            request.form.get("current_password", ""),
            new,
            keep_session=session_id(),
        )
    except DomainError as exc:
        return _page(exc.status, password_errors={exc.field: exc.message})
    return _page(password_changed=True)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke: the token stops working at once. One already gone (a second click) is no error:
    the list shows what is left."""
    db, user = get_db(), current_user()
    tokens.revoke(db, user["id"], token_id)
    if is_htmx():
        return render_template("_tokens.html", **_tokens(db, user))
    return redirect(url_for("settings.page"), 303)
