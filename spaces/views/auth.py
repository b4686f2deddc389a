"""Sign up, log in, log out, and the terminal client's tokens."""

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from .. import accounts, tokens
from ..errors import DomainError
from ..extensions import csrf, limiter
from ..web import get_db, sign_in, sign_out

bp = Blueprint("auth", __name__)


def _username_key() -> str:
    return "login-user:" + (request.form.get("username") or "").strip().lower()[:64]


def _failed(response) -> bool:
    return response.status_code == 401


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def signup():
    form = {"username": request.form.get("username", "")}
    if request.method == "POST":
        try:
            user = accounts.sign_up(get_db(), form["username"], request.form.get("password", ""))
        except DomainError as exc:
            return render_template("signup.html", form=form, errors={exc.field: exc.message}), 400
        sign_in(user)
        return redirect(url_for("home.index"))
    return render_template("signup.html", form=form, errors={})


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"], key_func=_username_key, deduct_when=_failed)
@limiter.limit("30 per 10 minutes", methods=["POST"], deduct_when=_failed)
def login():
    form = {"username": request.form.get("username", "")}
    if request.method == "POST":
        user = accounts.authenticate(get_db(), form["username"], request.form.get("password", ""))
        if user is None:
            errors = {"password": "That username and password do not match."}
            return render_template("login.html", form=form, errors=errors), 401
        sign_in(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form, errors={})


@bp.post("/api/token")
@csrf.exempt
@limiter.limit("5 per minute", key_func=_username_key, deduct_when=_failed)
@limiter.limit("30 per 10 minutes", deduct_when=_failed)
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
    sign_out()
    return redirect(url_for("home.index"))
