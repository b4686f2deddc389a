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
# Co-hosts (issue 17): the host's actions on co-hosts. Co-hosts themselves may do what the host
# does to people and requests, and edit; see `runs_room` and `_why_cohost_limits`.
MAX_COHOSTS = 2
COHOST_ACTIONS = ("make_cohost", "remove_cohost")
TARGET_ACTIONS += COHOST_ACTIONS
# Reactions and raised hands (issue 17; reactions.py): kept apart so other features' actions
# merge cleanly.
REACTION_ACTIONS = (
    "react",  # Clap, Laugh, Heart, Hundred, Raise hand / Lower hand
    "see_raised_hands",  # the raised hands listed in the Requests area
)
# Pinned post (issue 17): pinning one's own post to the Space, and unpinning it (the host and
# co-hosts).
PIN_ACTIONS = ("pin",)
ACTIONS = SELF_ACTIONS + TARGET_ACTIONS + REACTION_ACTIONS + PIN_ACTIONS


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
    cohost: bool = False  # a speaker the host made co-host (issue 17)
    guest: bool = False  # a visitor without an account (guest listeners, below)

    @property
    def present(self) -> bool:
        return self.role is not None

    @property
    def runs_room(self) -> bool:
        """The host, or a co-host: they see and use the host's controls for people and requests."""
        return self.role == "host" or (self.role == "speaker" and self.cohost)

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
    if action not in ACTIONS and action not in SCHEDULE_ACTIONS:
        return "Unknown action."
    if actor.guest:
        return _why_guest(actor, action, space)
    if actor.user_id is None:
        return "Sign in first."
    if space is None:
        return "There is no such Space."
    if action in SCHEDULE_ACTIONS or is_scheduled(space):
        return _why_scheduled(actor, action, space)
    live = space.get("ended_at") is None
    if not live:
        if action == "view" and (actor.is_admin or actor.user_id == space["host_id"]):
            return None
        return "This Space has ended."
    if action in TARGET_ACTIONS:
        return _why_target(actor, action, space, target)
    if action in REACTION_ACTIONS:
        return _why_reaction(actor, action, space)
    return _why_self(actor, action, space)


# Guest listeners (issue 18) ---------------------------------------------------------------------
# A visitor without an account who chose `Listen as a guest`: `guest=True`, no user id, role
# 'listener' while listening (their session says so: spaces/guests.py). They look, listen and
# read captions; they ask, report, share and appear by name nowhere. `join` is `Listen as a
# guest`; `leave` (present in the Space) is what the audio and live sockets ask, as for accounts.
GUEST_ACTIONS = ("view", "join", "leave", "view_captions")
# Guest reactions (issue 17: "guests too, once they exist"): Clap, Laugh, Heart, Hundred on the
# live socket, shown as from "a guest". No raised hand: see `why_hand`.
GUEST_ACTIONS += ("react",)
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
    if is_scheduled(space):  # its page, yes; listening waits for it to start
        return None if action == "view" else NOT_STARTED
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
    if action == "edit":  # co-hosts too (issue 17)
        return None if actor.runs_room else "Only the host can do that."
    # Who can speak is the host's own reach (one policy counts whom the host follows), and ending
    # is theirs: co-hosts admit people one by one instead.
    if action in ("set_policy", "end"):
        return None if role == "host" else "Only the host can do that."
    if action in PIN_ACTIONS:
        return None if actor.runs_room else "Only the host or a co-host can pin a post."
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
    if action in COHOST_ACTIONS:
        return _why_cohost_change(actor, action, target)
    if not actor.runs_room:
        return "Only the host can do that."
    refusal = _why_cohost_limits(actor, space, target)
    if refusal:
        return refusal
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


# Co-hosts (issue 17) ----------------------------------------------------------------------------

NOT_THE_HOST = "No one can do that to the host."
NOT_A_COHOST = "Only the host can do that to a co-host."


def _why_cohost_limits(actor: Actor, space: dict, target: Actor) -> str | None:
    """What the host may do to people, a co-host may too, except to the host (present or away)
    or to another co-host: the host chose them, so only the host moves, mutes or removes them."""
    if target.user_id == space["host_id"]:
        return NOT_THE_HOST
    if actor.role != "host" and target.cohost:
        return NOT_A_COHOST
    return None


def _why_cohost_change(actor: Actor, action: str, target: Actor) -> str | None:
    """Only the host makes and unmakes co-hosts; the cap of MAX_COHOSTS and the stage's seats are
    counted by the domain (cohosts.py), which holds the numbers."""
    if actor.role != "host":
        return "Only the host can do that."
    if not target.present:
        return "They are not in the Space."
    if action == "make_cohost":
        return "They are already a co-host." if target.cohost else None
    return None if target.cohost else "They are not a co-host."


# Reactions and raised hands (issue 17) ----------------------------------------------------------

# Anyone in the room with a request waiting: whoever may approve it may see the raised hands.
_A_REQUEST = Actor(user_id=-1, role="listener", requested=True)


def _why_reaction(actor: Actor, action: str, space: dict) -> str | None:
    if action == "see_raised_hands":
        return _why_target(actor, "approve", space, _A_REQUEST)
    # react: people in the Space only; someone removed or blocked is not, but say why.
    if actor.blocked_by_host:
        return BLOCKED
    if actor.removed:
        return "The host removed you from this Space."
    if not actor.present:
        return "Join the Space first."
    return None


GUESTS_NO_HAND = (
    "Guests cannot ask to speak, so they cannot raise a hand. Log in or sign up to take part."
)


def why_hand(actor: Actor, space: dict | None) -> str | None:
    """`Raise hand` / `Lower hand`, part of `react`, except for guests: a raised hand asks the
    host's attention to bring someone on stage, and a guest can never be brought up (nor listed
    to be found), so a hand they raised would promise what cannot happen."""
    reason = why(actor, "react", space)
    if reason is None and actor.guest:
        return GUESTS_NO_HAND
    return reason


# Scheduled Spaces (issue 18: scheduling and reminders) -------------------------------------
# Kept apart from ACTIONS: they concern a Space that is not live yet (its own grid is in
# tests/test_policy.py). `set_reminder` covers setting and removing one.
SCHEDULE_ACTIONS = ("set_reminder", "start_now", "cancel")
NOT_STARTED = "This Space has not started yet."


def is_scheduled(space: dict) -> bool:
    """Waiting for its host to start it (neither live nor cancelled)."""
    return space.get("scheduled_for") is not None and space.get("ended_at") is None


def _why_scheduled(actor: Actor, action: str, space: dict) -> str | None:
    if not is_scheduled(space):  # a scheduled action on a Space that started or ended
        return "This Space has ended." if space.get("ended_at") else "This Space has started."
    is_host = actor.user_id == space["host_id"]
    if action == "view":
        return BLOCKED if actor.blocked_by_host else None
    if action == "set_reminder":
        if is_host:
            return "You host this Space: you are told when it is due."
        return BLOCKED if actor.blocked_by_host else None
    if action in ("start_now", "cancel"):
        if not is_host:
            return "Only the host can do that."
        return may_create(actor) if action == "start_now" else None
    return NOT_STARTED  # every room action waits for the Space to start
