"""Room pages and actions. Each action calls the domain, publishes its RoomEvent, and answers an
htmx request with the fragments it changed for the person who acted."""

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from .. import (
    accounts,
    blocks,
    dm_limit,
    guest_room,
    messages,
    policy,
    posts,
    retention,
    room_render,
    rooms,
)
from .. import guest_session as guest
from .. import scheduled_page as scheduling
from ..cohosts import make_cohost, remove_cohost
from ..errors import DomainError, Forbidden, NotFound
from ..events import RoomEvent
from ..extensions import limiter
from ..recordings import for_space as recordings_of
from ..web import current_user, get_db, going_live, is_htmx, live_hub, login_required, publish

bp = Blueprint("rooms", __name__)


def _space(space_id: int) -> dict:
    return rooms.get(get_db(), space_id)


def _respond(space_id: int, event: RoomEvent, said: str = "", joined_or_left: bool = False):
    """The fragments this action changed, as the actor now sees them; `said` tells them what
    their action did. After joining or leaving, their captions and the room's live socket too
    (room_render.membership)."""
    if not is_htmx():
        return redirect(url_for("rooms.room", space_id=space_id))
    db, user = get_db(), current_user()
    space = rooms.get(db, space_id)
    if space["ended_at"] is not None:
        return room_render.ended(space)
    if user["id"] in event.removed:
        return room_render.removed(space)
    render = room_render.RoomRender(db, space, current_app.config["LISTENERS_SHOWN"])
    mine = [text for uid, text in event.notices if uid == user["id"]] + ([said] if said else [])
    if joined_or_left:
        # With meta and requests: someone who leaves as co-host loses the host's controls there.
        sections = render.fragments(user["id"], event.sections | {"meta", "requests"})
        return sections + room_render.membership(db, space, user, mine)
    return render.fragments(user["id"], event.sections, controls=user, notices=mine)


def _act(space_id: int, event: RoomEvent, said: str = "", joined_or_left: bool = False):
    publish(event)
    return _respond(space_id, event, said, joined_or_left)


@bp.route("/spaces/new", methods=["GET", "POST"])
@login_required
@going_live
def new():
    user = current_user()
    refusal = policy.may_create(rooms.actor(get_db(), {"id": 0, "host_id": 0}, user))
    form = {
        "title": request.form.get("title", ""),
        "description": request.form.get("description", ""),
        "speaker_policy": request.form.get("speaker_policy", "everyone"),
        "allow_guests": _allow_guests(request.form, default=True),
    }
    scheduled = request.form.get("schedule") == "on"  # Schedule for later (issue 18)
    if scheduled:
        form |= {"schedule": True, "start_time": request.form.get("start_time", "")}
    if request.method == "POST" and not refusal:
        was_in = rooms.spaces_present_in(get_db(), user["id"])  # hosting leaves them: see create
        try:
            if scheduled:
                start_utc = request.form.get("start_utc", "")
                return scheduling.schedule_from_form(user, form, start_utc)
            space = rooms.create(get_db(), user, **form)
        except DomainError as exc:
            return render_template(
                "rooms/new.html",
                form=form,
                errors={exc.field: exc.message},
                refusal=None,
                labels=policy.POLICY_LABELS,
            ), exc.status
        for space_id in was_in:
            publish(
                rooms.departure(space_id, user["id"], "You started a Space, so you left this one.")
            )
        scheduling.announce(space)
        return redirect(url_for("rooms.room", space_id=space["id"]))
    status = 403 if refusal and request.method == "POST" else 200
    return render_template(
        "rooms/new.html", form=form, errors={}, refusal=refusal, labels=policy.POLICY_LABELS
    ), status


@bp.get("/spaces/<int:space_id>")
def room(space_id: int):
    db, user = get_db(), current_user()
    space = rooms.get(db, space_id)
    if scheduling.was_scheduled(space):
        return scheduling.page(space, user)  # not started yet, or cancelled (issue 18)
    if user is None:
        # Someone who followed a shared link: a live Space that allows guests, read-only with
        # `Listen as a guest` (guest_room.py); else which Space, whose, and a way in that returns
        # here: 401, or 410 if over.
        refusal = policy.why(guest.actor(space), "view", space)
        if refusal is None and guest.possible():
            listening = guest.listening_in(space_id)
            page = guest_room.page(db, space, listening, guest.captions_on())
            return render_template("rooms/room.html", **page)
        status = 401 if space["ended_at"] is None else 410
        return render_template(
            "rooms/signed_out.html", space=space, next_path=request.path, refusal=refusal
        ), status
    who = rooms.actor(db, space, user)
    if space["ended_at"] is not None:
        if not policy.can(who, "view", space):
            ran_for = room_render.ran_for(space)
            return render_template("rooms/ended_public.html", space=space, ran_for=ran_for), 410
        return render_template(
            "rooms/ended.html",
            space=space,
            ran_for=room_render.ran_for(space),
            deadline=retention.deadline(space),
            recordings=recordings_of(db, space_id),
        )
    refusal = policy.why(who, "view", space)
    if refusal:  # removed or blocked: not who is in it, only why not (issue 13 item 1)
        if is_htmx():  # a boosted link, or the terminal client: the reason as any refusal's
            raise Forbidden(refusal)
        return render_template("rooms/refused.html", space=space, refusal=refusal), 403
    render = room_render.RoomRender(db, space, current_app.config["LISTENERS_SHOWN"])
    return render_template("rooms/room.html", **render.page(user))


@bp.post("/spaces/<int:space_id>/join")
@login_required
@limiter.limit("30 per minute")
def join(space_id: int):
    event = rooms.join(get_db(), space_id, current_user())
    live_hub().note_join(space_id, current_user()["id"])
    return _act(space_id, event, joined_or_left=True)


@bp.post("/spaces/<int:space_id>/leave")
@login_required
def leave(space_id: int):
    rooms.require(get_db(), _space(space_id), current_user(), "leave")
    event = rooms.leave(get_db(), space_id, current_user()["id"], "You left this Space.")
    event = event or RoomEvent(space_id, users=frozenset({current_user()["id"]}))
    return _act(space_id, event, joined_or_left=True)


@bp.post("/spaces/<int:space_id>/request")
@login_required
@limiter.limit("10 per minute")
def request_to_speak(space_id: int):
    return _act(space_id, rooms.request_to_speak(get_db(), space_id, current_user()))


SELF_ACTIONS = {
    "cancel-request": rooms.cancel_request,
    "accept-invite": rooms.accept_invite,
    "stop-speaking": rooms.stop_speaking,
}


@bp.post("/spaces/<int:space_id>/<any('cancel-request', 'accept-invite', 'stop-speaking'):name>")
@login_required
def self_action(space_id: int, name: str):
    return _act(space_id, SELF_ACTIONS[name](get_db(), space_id, current_user()))


@bp.post("/spaces/<int:space_id>/mic")
@login_required
@limiter.limit("120 per minute")
def mic(space_id: int):
    on = request.form.get("on") == "1"
    return _act(space_id, rooms.set_mic(get_db(), space_id, current_user(), on))


PERSON_ACTIONS = {
    "approve": rooms.approve,
    "deny": rooms.deny,
    "make-speaker": rooms.make_speaker,
    "invite": rooms.invite,
    "move-to-listeners": rooms.move_to_listeners,
    "mute": rooms.mute,
    "remove": rooms.remove,
    "allow-back": rooms.allow_back,
    "block": rooms.block,
    "make-cohost": make_cohost,  # co-hosts (issue 17)
    "remove-cohost": remove_cohost,
}


@bp.post("/spaces/<int:space_id>/people/<int:user_id>/<name>")
@login_required
@limiter.limit("120 per minute")
def person_action(space_id: int, user_id: int, name: str):
    action = PERSON_ACTIONS.get(name)
    if action is None:
        raise NotFound("That action is not available here.")
    event = action(get_db(), space_id, current_user(), user_id)
    said = PERSON_DONE.get(name, "").format(name=_name(user_id))
    return _act(space_id, event, said)


# What the person who acted reads afterwards, for the actions that leave no trace on their screen
# or cannot simply be taken back.
PERSON_DONE = {
    "remove": "You removed {name} from this Space. Allow them back under Removed if you change"
    " your mind.",
    "allow-back": "{name} can join this Space again.",
    "block": "You blocked {name}.",
    "make-cohost": "{name} is now a co-host.",
    "remove-cohost": "{name} is no longer a co-host.",
}


def _name(user_id: int) -> str:
    person = accounts.get(get_db(), user_id)
    return person["username"] if person else "them"


@bp.post("/spaces/<int:space_id>/edit")
@login_required
def edit(space_id: int):
    form = request.form
    event = rooms.edit(
        get_db(),
        space_id,
        current_user(),
        form.get("title", ""),
        form.get("description", ""),
        _allow_guests(form, default=None),
    )
    return _act(space_id, event)


def _allow_guests(form, default: bool | None) -> bool | None:
    """The `Allow guests` box: a form that shows it says so (`guests_shown`), since an unticked
    box sends nothing; a client that never showed it (the terminal) changes nothing."""
    if "guests_shown" not in form:
        return default
    return form.get("allow_guests") == "on"


@bp.post("/spaces/<int:space_id>/policy")
@login_required
def set_policy(space_id: int):
    event = rooms.set_policy(
        get_db(), space_id, current_user(), request.form.get("speaker_policy", "")
    )
    return _act(space_id, event)


@bp.post("/spaces/<int:space_id>/end")
@login_required
def end(space_id: int):
    publish(rooms.end(get_db(), space_id, current_user()))
    if is_htmx():
        # The host's own ended page (recording, transcript) at once, as a boosted visit would
        # bring it: the room's fragment is what listeners see.
        return "", 200, {"HX-Location": url_for("rooms.room", space_id=space_id)}
    return redirect(url_for("rooms.room", space_id=space_id))


@bp.post("/spaces/<int:space_id>/captions-view")
@login_required
def view_captions(space_id: int):
    """The viewer's `View captions` toggle, remembered on the account."""
    db, user = get_db(), current_user()
    space = _space(space_id)
    rooms.require(db, space, user, "view_captions")
    on = request.form.get("on") == "1"
    accounts.set_view_captions(db, user["id"], on)
    live_hub().set_captions(space_id, user["id"], on)
    if is_htmx():
        return room_render.captions_section(db, space, user["id"], oob=True)
    return redirect(url_for("rooms.room", space_id=space_id))


@bp.post("/spaces/<int:space_id>/captions-consent")
@login_required
def captions_consent(space_id: int):
    """`Allow captions` / `Not now` in the `Captions` dialog; kept on the account."""
    db, user = get_db(), current_user()
    _space(space_id)
    accounts.set_caption_consent(db, user["id"], request.form.get("allow") == "1")
    g.user = accounts.get(db, user["id"])  # the controls sent back show the answer
    for event in rooms.after_settings_change(db, user["id"]):
        publish(event)
    event = RoomEvent(space_id, users=frozenset({user["id"]}))
    return _act(space_id, event)


@bp.post("/spaces/<int:space_id>/share/post")
@login_required
@limiter.limit("10 per minute")
def share_post(space_id: int):
    db, user = get_db(), current_user()
    space = _space(space_id)
    _may_share(rooms.actor(db, space, user), space)
    link = url_for("rooms.room", space_id=space_id)
    posts.create(db, user["id"], f"Listen in: {space['title']}", link)
    return _share_done("Posted to your followers.")


@bp.post("/spaces/<int:space_id>/share/dm")
@login_required
@limiter.limit("10 per minute")
def share_dm(space_id: int):
    """Sends the room link by DM; the host may invite the people to speak at the same time."""
    db, user = get_db(), current_user()
    space = _space(space_id)
    who = rooms.actor(db, space, user)
    _may_share(who, space)
    unique: dict[str, str] = {}  # each person once, in the order given (usernames ignore case)
    for name in request.form.get("usernames", "").replace(",", " ").split():
        unique.setdefault(name.lower(), name)
    names = list(unique.values())[:20]
    if not names:
        raise DomainError("Enter at least one username.", "usernames")
    as_speaker = request.form.get("invite_to_speak") == "on"
    link = url_for("rooms.room", space_id=space_id)
    sent = []
    people = [accounts.by_username(db, name) for name in names]  # all exist, or nothing is sent
    for person in people:  # every refusal before any message: all are sent, or none
        if blocks.either_blocked(db, user["id"], person["id"]):
            raise Forbidden(f"You cannot message {person['username']}.")
        if as_speaker:
            reason = policy.why(who, "invite", space, rooms.actor(db, space, person))
            if reason:
                raise Forbidden(reason)
    if not dm_limit.spend(len(people)):  # the message form's allowance: one per person
        raise dm_limit.TooManyMessages()
    for person in people:
        if as_speaker:
            whose = "their" if user["id"] == space["host_id"] else f"{space['host_username']}'s"
            text = f"{user['username']} invites you to speak in {whose} Space: {space['title']}"
        else:
            text = f"Join me in this Space: {space['title']}"
        messages.send(db, user["id"], person["id"], text, link)  # refused if blocked: no invite
        if as_speaker:
            publish(rooms.invite(db, space_id, user, person["id"]))
        sent.append(person["username"])
    return _share_done("Sent to " + ", ".join(sent) + ".")


def _may_share(who: policy.Actor, space: dict) -> None:
    reason = policy.why(who, "share", space)
    if reason:
        raise (NotFound if space["ended_at"] is not None else Forbidden)(reason)


def _share_done(text: str):
    if is_htmx():  # said inside the Share dialog, where the person is looking
        return room_render.status(text, target="share-status")
    return redirect(request.referrer or url_for("home.index"))
