"""Sign up, log in, log out, and the terminal client's tokens."""

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from .. import accounts, rooms, tokens
from ..errors import DomainError
from ..extensions import csrf, limiter
from ..redirects import same_site_path
from ..web import current_user, get_db, publish, sign_in, sign_out

bp = Blueprint("auth", __name__)


def _username_key() -> str:
    return "login-user:" + (request.form.get("username") or "").strip().lower()[:64]


def _failed(response) -> bool:
    return response.status_code == 401


# The login form and /api/token are two doors to one password check, so they share one lock per
# username (whatever address the guesses come from) and one per address; only failures count.
_per_username = limiter.shared_limit(
    "5 per minute",
    scope="login-user",
    key_func=_username_key,
    methods=["POST"],
    deduct_when=_failed,
)
_per_address = limiter.shared_limit(
    "30 per 10 minutes", scope="login-address", methods=["POST"], deduct_when=_failed
)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def signup():
    form = {"username": request.form.get("username", "")}
    if request.method == "POST":
        password = request.form.get("password", "")
        problems = accounts.sign_up_problems(get_db(), form["username"], password)
        if problems:
            return render_template("signup.html", form=form, errors=problems), 400
        try:
            user = accounts.sign_up(get_db(), form["username"], password)
        except DomainError as exc:
            return render_template("signup.html", form=form, errors={exc.field: exc.message}), 400
        sign_in(user)
        return redirect(same_site_path(request.args.get("next")) or url_for("home.index"))
    return render_template("signup.html", form=form, errors={})


@bp.route("/login", methods=["GET", "POST"])
@_per_username
@_per_address
def login():
    form = {"username": request.form.get("username", "")}
    if request.method == "POST":
        user = accounts.authenticate(get_db(), form["username"], request.form.get("password", ""))
        if user is None:
            errors = {"password": "That username and password do not match."}
            return render_template("login.html", form=form, errors=errors), 401
        sign_in(user)
        return redirect(same_site_path(request.args.get("next")) or url_for("home.index"))
    return render_template("login.html", form=form, errors={})


@bp.post("/api/token")
@csrf.exempt
@_per_username
@_per_address
def api_token():
    """A bearer token for the terminal client (`spaces login`), for a username and password. It
    works for API_TOKEN_DAYS, on the few endpoints web.TOKEN_ENDPOINTS names."""
    user = accounts.authenticate(
        get_db(), request.form.get("username", ""), request.form.get("password", "")
    )
    if user is None:
        return jsonify(error="That username and password do not match."), 401
    token = tokens.issue(get_db(), user["id"], days=current_app.config["API_TOKEN_DAYS"])
    return jsonify(token=token, username=user["username"])


@bp.post("/logout")
def logout():
    for event in rooms.log_out(get_db(), current_user()["id"]) if current_user() else ():
        publish(event)  # leaves every Space: microphone off, sockets closed
    sign_out()
    return redirect(url_for("home.index"))
