"""The one place that decides who may do what in a Space.

Views and socket handlers build `Actor`s from the database (rooms.actor) or from in-memory room
state and ask `can()`; nothing else decides. `why()` gives the refusal a person reads.
"""

from dataclasses import dataclass

POLICIES = ("everyone", "following", "invited")
POLICY_LABELS = {
    "everyone": "Everyone",
    "following": "People you follow",
    "invited": "Only people you invite",
}
SPEAKER_CAP = 11  # including the host
BLOCKED = "The host has blocked you, so you cannot open or join their Spaces."

# Actions on a Space as a whole, by the actor.
SELF_ACTIONS = (
    "view",
    "join",
    "leave",
    "request",
    "cancel_request",
    "accept_invite",
    "stop_speaking",
    "mic",
    "send_audio",
    "view_captions",
    "share",
    "report_space",
    "edit",
    "set_policy",
    "end",
    "end_for_violation",
)
# Actions by the actor on another person in the Space.
TARGET_ACTIONS = (
    "approve",
    "deny",
    "make_speaker",
    "invite",
    "move_to_listeners",
    "mute",
    "remove",
    "allow_back",
    "block",
    "report",
)
ACTIONS = SELF_ACTIONS + TARGET_ACTIONS


@dataclass(frozen=True)
class Actor:
    """A person as the rules see them in one Space. `user_id` None means signed out."""

    user_id: int | None
    is_admin: bool = False
    protected: bool = False
    role: str | None = None  # 'host', 'speaker', 'listener' while present, else None
    requested: bool = False
    invited: bool = False
    removed: bool = False
    blocked_by_host: bool = False
    followed_by_host: bool = False
    mic_on: bool = False
    guest: bool = False  # a visitor without an account (guest listeners, below)

    @property
    def present(self) -> bool:
        return self.role is not None

    @property
    def on_stage(self) -> bool:
        return self.role in ("host", "speaker")


ANONYMOUS = Actor(user_id=None)


def can(actor: Actor, action: str, space: dict | None, target: Actor | None = None) -> bool:
    return why(actor, action, space, target) is None


def may_create(actor: Actor) -> str | None:
    """None if the person may start a Space, else the reason."""
    if actor.user_id is None:
        return "Sign in to start a Space."
    if actor.protected:
        return "Accounts with protected posts cannot start Spaces. You can still join and speak."
    return None


def why(actor: Actor, action: str, space: dict | None, target: Actor | None = None) -> str | None:
    """None when allowed, else a sentence saying why not."""
    if action not in ACTIONS:
        return "Unknown action."
    if actor.guest:
        return _why_guest(actor, action, space)
    if actor.user_id is None:
        return "Sign in first."
    if space is None:
        return "There is no such Space."
    live = space.get("ended_at") is None
    if not live:
        if action == "view" and (actor.is_admin or actor.user_id == space["host_id"]):
            return None
        return "This Space has ended."
    if action in TARGET_ACTIONS:
        return _why_target(actor, action, space, target)
    return _why_self(actor, action, space)


# Guest listeners (issue 18) ---------------------------------------------------------------------
# A visitor without an account who chose `Listen as a guest`: `guest=True`, no user id, role
# 'listener' while listening (their session says so: spaces/guests.py). They look, listen and
# read captions; they ask, report, share and appear by name nowhere. `join` is `Listen as a
# guest`; `leave` (present in the Space) is what the audio and live sockets ask, as for accounts.
GUEST_ACTIONS = ("view", "join", "leave", "view_captions")  # reactions: add "react" here
GUESTS_ONLY_LISTEN = "Guests can only listen. Log in or sign up to take part."
GUESTS_OFF = "The host is not allowing guests in this Space. Log in or sign up to listen."


def guests_allowed(space: dict) -> bool:
    """The host's `Allow guests` (on unless turned off)."""
    return bool(space.get("allow_guests", 1))


def _why_guest(actor: Actor, action: str, space: dict | None) -> str | None:
    if space is None:
        return "There is no such Space."
    if space.get("ended_at") is not None:
        return "This Space has ended."
    if action not in GUEST_ACTIONS:
        return GUESTS_ONLY_LISTEN
    if not guests_allowed(space):
        return GUESTS_OFF
    if action in ("view", "join"):
        return None
    return None if actor.present else "Join the Space first."


def _why_self(actor: Actor, action: str, space: dict) -> str | None:
    role = actor.role
    if action in ("view", "share"):
        # Someone the host blocked does not see who is in the room or pass its link around;
        # someone they removed sees nothing of the room either (issue 13 item 1).
        if actor.blocked_by_host:
            return BLOCKED
        if action == "view" and actor.removed:
            return "The host removed you from this Space."
        return None
    if action == "report_space":
        return None
    if action == "end_for_violation":
        return None if actor.is_admin else "Only admins can do that."
    if action == "join":
        if actor.removed:
            return "The host removed you from this Space."
        if actor.blocked_by_host:
            return BLOCKED
        return None
    if not actor.present:
        return "Join the Space first."
    if action in ("leave", "view_captions"):
        return None
    if action == "request":
        if role != "listener":
            return "You are already on stage."
        if actor.requested:
            return "You have already asked to speak."
        policy = space["speaker_policy"]
        if policy == "invited":
            return "Only people the host invites can speak in this Space."
        if policy == "following" and not actor.followed_by_host:
            return "Only people the host follows can ask to speak."
        return None
    if action == "cancel_request":
        return None if actor.requested else "You have not asked to speak."
    if action == "accept_invite":
        if role != "listener" or not actor.invited:
            return "You have no invitation to speak."
        return None
    if action == "stop_speaking":
        return None if role == "speaker" else "Only speakers can do that."
    if action == "mic":
        return None if actor.on_stage else "Only speakers can use the microphone."
    if action == "send_audio":
        return None if actor.on_stage and actor.mic_on else "Your microphone is off."
    if action in ("edit", "set_policy", "end"):
        return None if role == "host" else "Only the host can do that."
    return "Unknown action."


def _why_target(actor: Actor, action: str, space: dict, target: Actor | None) -> str | None:
    if target is None or target.user_id is None:
        return "There is no such person."
    if target.user_id == actor.user_id:
        return "You cannot do that to yourself."
    if action == "report":
        return None
    if action == "block":  # an account block: anyone in the room, about anyone
        return None if actor.present else "Join the Space first."
    if actor.role != "host":
        return "Only the host can do that."
    if action == "allow_back":
        if not target.removed:
            return "They were not removed from this Space."
        if target.blocked_by_host:
            return "You blocked them: unblock them on their profile first."
        return None
    if action == "invite":
        if target.on_stage:
            return "They are already on stage."
        if target.removed or target.blocked_by_host:
            return "They cannot join this Space."
        return None
    if not target.present:
        return "They are not in the Space."
    if action in ("approve", "deny"):
        return (
            None if target.requested and target.role == "listener" else "There is no such request."
        )
    if action == "make_speaker":
        return None if target.role == "listener" else "They are already on stage."
    if action == "move_to_listeners":
        return None if target.role == "speaker" else "They are not a speaker."
    if action == "mute":
        return None if target.role == "speaker" and target.mic_on else "Their microphone is off."
    if action == "remove":
        return None if target.role != "host" else "The host cannot be removed."
    return "Unknown action."
