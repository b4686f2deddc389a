"""Settings: the profile, the password, where you are signed in and the terminal client's tokens.

None of it takes an API token (web.TOKEN_ENDPOINTS): a token here is a signed-out request.
"""

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from .. import accounts, notifications, pictures, rooms, sessions, tokens
from ..errors import DomainError
from ..extensions import limiter
from ..web import (
    body_limit,
    current_user,
    error_page,
    get_db,
    is_htmx,
    login_required,
    publish,
    session_id,
    session_max_age,
)

bp = Blueprint("settings", __name__)

# The settings form carries the picture: its upload, and room for the other fields.
FORM_LIMIT = pictures.MAX_BYTES + 64 * 1024

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


def _uploaded_picture() -> bytes | None:
    """The `Profile picture` file's bytes, or None when none was chosen. At most one byte past
    the limit is read: pictures.process says it is too large."""
    upload = request.files.get("picture")
    if upload is None or not upload.filename:
        return None
    return upload.stream.read(pictures.MAX_BYTES + 1)


def _changed(user_id: int) -> None:
    """Names, pictures and consent show in rooms: re-render the rooms this person is in."""
    g.user = accounts.get(get_db(), user_id)  # the page and navigation show the change
    for event in rooms.after_settings_change(get_db(), user_id):
        publish(event)


@bp.route("/settings", methods=["GET", "POST"])
@body_limit(FORM_LIMIT)
@login_required
@limiter.limit("20 per minute", methods=["POST"])  # a picture takes a moment of CPU to decode
def page():
    """The profile form. A picture is checked and re-encoded before anything is saved, so a bad
    upload changes nothing, not even the other fields."""
    if request.method == "GET":
        return _page()
    db, user = get_db(), current_user()
    form = {
        "display_name": request.form.get("display_name", ""),
        "bio": request.form.get("bio", ""),
        "protected": request.form.get("protected") == "on",
        "caption_consent": _caption_answer(request.form),
    }
    try:
        upload = _uploaded_picture()
        picture = pictures.process(upload) if upload is not None else None
        accounts.update_settings(db, user["id"], **form)
    except DomainError as exc:
        return _page(400, form=form, errors={exc.field: exc.message})
    if picture is not None:
        pictures.store(db, current_app.config["PICTURES_DIR"], user["id"], picture)
    _changed(user["id"])
    return _page(form=form, saved=True)


@bp.errorhandler(413)
def too_large(_exc):
    """An upload past the form's limit (a 20 MB photo) is refused before it is read: the page
    says so by the field, and nothing was saved."""
    if request.endpoint != "settings.page" or current_user() is None:
        return error_page("That request is too large.", 413)
    return _page(413, errors={"picture": pictures.TOO_LARGE})


@bp.post("/settings/picture/remove")
@login_required
def remove_picture():
    """`Remove picture`: back to initials everywhere."""
    user = current_user()
    pictures.remove(get_db(), current_app.config["PICTURES_DIR"], user["id"])
    _changed(user["id"])
    return _page(picture_removed=True)


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
