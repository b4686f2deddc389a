"""The authorization matrix: every role against every action, in a live Space and an ended one.

Each cell below is written out by hand from the product rules (issue 4), not computed: `+` means
allowed, a letter means refused with the sentence in REASONS. A change to the rules or to the list
of actions breaks this test on purpose.
"""

import pytest

from spaces import policy
from spaces.policy import Actor

HOST_ID = 1
LIVE = {"id": 7, "host_id": HOST_ID, "speaker_policy": "everyone", "ended_at": None}
ENDED = {**LIVE, "ended_at": 1_800_000_000.0}

REASONS = {
    "S": "Sign in first.",
    "E": "This Space has ended.",
    "J": "Join the Space first.",
    "H": "Only the host can do that.",
    "A": "Only admins can do that.",
    "R": "The host removed you from this Space.",
    "B": "The host has blocked you, so you cannot open or join their Spaces.",
    "O": "You are already on stage.",
    "Q": "You have already asked to speak.",
    "C": "You have not asked to speak.",
    "I": "You have no invitation to speak.",
    "P": "Only speakers can do that.",
    "M": "Only speakers can use the microphone.",
    "F": "Your microphone is off.",
    "K": "Only the host or a co-host can pin a post.",
    "G": "Guests can only listen. Log in or sign up to take part.",
    "N": "The host is not allowing guests in this Space. Log in or sign up to listen.",
}

# Who is acting. Everyone but the host has their own id; "present" people have a role.
ROLES = {
    "anonymous": Actor(user_id=None),
    "stranger": Actor(user_id=2),
    "listener": Actor(user_id=3, role="listener"),
    "requester": Actor(user_id=4, role="listener", requested=True),
    "invited": Actor(user_id=5, role="listener", invited=True),
    "speaker": Actor(user_id=6, role="speaker"),
    "speaker_mic_on": Actor(user_id=6, role="speaker", mic_on=True),
    "cohost": Actor(user_id=11, role="speaker", cohost=True),  # issue 17
    "host": Actor(user_id=HOST_ID, role="host"),
    "host_away": Actor(user_id=HOST_ID),  # the host closed the tab; still the host
    "removed": Actor(user_id=7, removed=True),
    "blocked_by_host": Actor(user_id=8, blocked_by_host=True),
    "admin": Actor(user_id=9, is_admin=True),
    "admin_listener": Actor(user_id=9, is_admin=True, role="listener"),
    "protected": Actor(user_id=10, protected=True),
    "protected_speaker": Actor(user_id=10, protected=True, role="speaker"),
}

# The person a target action is done to: a suitable one for each action.
REQUESTING_LISTENER = Actor(user_id=101, role="listener", requested=True)
LISTENER = Actor(user_id=102, role="listener")
OUTSIDER = Actor(user_id=103)
SPEAKER = Actor(user_id=104, role="speaker")
SPEAKER_MIC_ON = Actor(user_id=105, role="speaker", mic_on=True)
REMOVED = Actor(user_id=106, removed=True)
COHOST = Actor(user_id=107, role="speaker", cohost=True)
TARGETS = {
    "approve": REQUESTING_LISTENER,
    "deny": REQUESTING_LISTENER,
    "make_speaker": LISTENER,
    "invite": OUTSIDER,  # by direct message: they need not be in the room
    "move_to_listeners": SPEAKER,
    "mute": SPEAKER_MIC_ON,
    "remove": LISTENER,
    "allow_back": REMOVED,
    "block": LISTENER,
    "report": LISTENER,
    "make_cohost": LISTENER,  # co-hosts (issue 17): a listener comes on stage as co-host
    "remove_cohost": COHOST,
}

COLUMNS = {
    "vw": "view",
    "jn": "join",
    "lv": "leave",
    "rq": "request",
    "cr": "cancel_request",
    "ai": "accept_invite",
    "ss": "stop_speaking",
    "mc": "mic",
    "sa": "send_audio",
    "vc": "view_captions",
    "sh": "share",
    "rs": "report_space",
    "ed": "edit",
    "sp": "set_policy",
    "en": "end",
    "ev": "end_for_violation",
    "ap": "approve",
    "dn": "deny",
    "ms": "make_speaker",
    "in": "invite",
    "ml": "move_to_listeners",
    "mu": "mute",
    "rm": "remove",
    "ab": "allow_back",
    "bk": "block",
    "rp": "report",
    "mh": "make_cohost",
    "rh": "remove_cohost",
    "pn": "pin",
}

# Removed and blocked people may not even look at a live room (issue 13 item 1): `view` R and B.
LIVE_GRID = """
                    vw jn lv rq cr ai ss mc sa vc sh rs ed sp en ev | ap dn ms in ml mu rm ab bk rp
anonymous           S  S  S  S  S  S  S  S  S  S  S  S  S  S  S  S  | S  S  S  S  S  S  S  S  S  S
stranger            +  +  J  J  J  J  J  J  J  J  +  +  J  J  J  A  | H  H  H  H  H  H  H  H  J  +
listener            +  +  +  +  C  I  P  M  F  +  +  +  H  H  H  A  | H  H  H  H  H  H  H  H  +  +
requester           +  +  +  Q  +  I  P  M  F  +  +  +  H  H  H  A  | H  H  H  H  H  H  H  H  +  +
invited             +  +  +  +  C  +  P  M  F  +  +  +  H  H  H  A  | H  H  H  H  H  H  H  H  +  +
speaker             +  +  +  O  C  I  +  +  F  +  +  +  H  H  H  A  | H  H  H  H  H  H  H  H  +  +
speaker_mic_on      +  +  +  O  C  I  +  +  +  +  +  +  H  H  H  A  | H  H  H  H  H  H  H  H  +  +
cohost              +  +  +  O  C  I  +  +  F  +  +  +  +  H  H  A  | +  +  +  +  +  +  +  +  +  +
host                +  +  +  O  C  I  P  +  F  +  +  +  +  +  +  A  | +  +  +  +  +  +  +  +  +  +
host_away           +  +  J  J  J  J  J  J  J  J  +  +  J  J  J  A  | H  H  H  H  H  H  H  H  J  +
removed             R  R  J  J  J  J  J  J  J  J  +  +  J  J  J  A  | H  H  H  H  H  H  H  H  J  +
blocked_by_host     B  B  J  J  J  J  J  J  J  J  B  +  J  J  J  A  | H  H  H  H  H  H  H  H  J  +
admin               +  +  J  J  J  J  J  J  J  J  +  +  J  J  J  +  | H  H  H  H  H  H  H  H  J  +
admin_listener      +  +  +  +  C  I  P  M  F  +  +  +  H  H  H  +  | H  H  H  H  H  H  H  H  +  +
protected           +  +  J  J  J  J  J  J  J  J  +  +  J  J  J  A  | H  H  H  H  H  H  H  H  J  +
protected_speaker   +  +  +  O  C  I  +  +  F  +  +  +  H  H  H  A  | H  H  H  H  H  H  H  H  +  +
"""

# Once ended, a Space is gone for everyone: only its host and admins may still look at its page.
ENDED_GRID = """
                    vw jn lv rq cr ai ss mc sa vc sh rs ed sp en ev | ap dn ms in ml mu rm ab bk rp
anonymous           S  S  S  S  S  S  S  S  S  S  S  S  S  S  S  S  | S  S  S  S  S  S  S  S  S  S
stranger            E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
listener            E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
requester           E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
invited             E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
speaker             E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
speaker_mic_on      E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
cohost              E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
host                +  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
host_away           +  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
removed             E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
blocked_by_host     E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
admin               +  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
admin_listener      +  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
protected           E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
protected_speaker   E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
"""

# Co-hosts (issue 17): the host's own actions on co-hosts, kept apart so other features' columns
# merge cleanly. A co-host's row in the grids above: what the host may do with people, and Edit.
COHOST_LIVE_GRID = """
                    mh rh
anonymous           S  S
stranger            H  H
listener            H  H
requester           H  H
invited             H  H
speaker             H  H
speaker_mic_on      H  H
cohost              H  H
host                +  +
host_away           H  H
removed             H  H
blocked_by_host     H  H
admin               H  H
admin_listener      H  H
protected           H  H
protected_speaker   H  H
"""
COHOST_ENDED_GRID = """
                    mh rh
anonymous           S  S
stranger            E  E
listener            E  E
requester           E  E
invited             E  E
speaker             E  E
speaker_mic_on      E  E
cohost              E  E
host                E  E
host_away           E  E
removed             E  E
blocked_by_host     E  E
admin               E  E
admin_listener      E  E
protected           E  E
protected_speaker   E  E
"""


# Pinned post (issue 17): the host pins one of their own posts to their live Space and unpins it.
# (Whose post it is, is the domain's check: test_pins.py.)
PIN_GRID = """
                    pn
anonymous           S
stranger            J
listener            K
requester           K
invited             K
speaker             K
speaker_mic_on      K
cohost              +
host                +
host_away           J
removed             J
blocked_by_host     J
admin               J
admin_listener      K
protected           J
protected_speaker   K
"""
PIN_ENDED_GRID = """
                    pn
anonymous           S
stranger            E
listener            E
requester           E
invited             E
speaker             E
speaker_mic_on      E
cohost              E
host                E
host_away           E
removed             E
blocked_by_host     E
admin               E
admin_listener      E
protected           E
protected_speaker   E
"""


def parse(grid: str, state: str) -> list[tuple[str, str, str, str]]:
    lines = [line.split() for line in grid.strip().splitlines()]
    header = [COLUMNS[h] for h in lines[0] if h != "|"]
    cells = []
    for row in lines[1:]:
        role, marks = row[0], [m for m in row[1:] if m != "|"]
        assert len(marks) == len(header), f"{state} {role}: {len(marks)} marks"
        cells += [(state, role, action, mark) for action, mark in zip(header, marks, strict=True)]
    return cells


# Reactions and raised hands (issue 17), in grids of their own so that other features' columns
# merge cleanly: present people react (not removed, blocked or outside people, whatever else
# they are); whoever may approve requests sees the raised hands.
COLUMNS.update({"rc": "react", "hs": "see_raised_hands"})
REACTIONS_LIVE_GRID = """
                    rc hs
anonymous           S  S
stranger            J  H
listener            +  H
requester           +  H
invited             +  H
speaker             +  H
speaker_mic_on      +  H
cohost              +  +
host                +  +
host_away           J  H
removed             R  H
blocked_by_host     B  H
admin               J  H
admin_listener      +  H
protected           J  H
protected_speaker   +  H
"""
REACTIONS_ENDED_GRID = """
                    rc hs
anonymous           S  S
stranger            E  E
listener            E  E
requester           E  E
invited             E  E
speaker             E  E
speaker_mic_on      E  E
cohost              E  E
host                E  E
host_away           E  E
removed             E  E
blocked_by_host     E  E
admin               E  E
admin_listener      E  E
protected           E  E
protected_speaker   E  E
"""
GRIDS = {
    "live": (LIVE_GRID, COHOST_LIVE_GRID, REACTIONS_LIVE_GRID, PIN_GRID),
    "ended": (ENDED_GRID, COHOST_ENDED_GRID, REACTIONS_ENDED_GRID, PIN_ENDED_GRID),
}
CELLS = [cell for state, grids in GRIDS.items() for grid in grids for cell in parse(grid, state)]
SPACES = {"live": LIVE, "ended": ENDED}


def test_matrix_covers_every_role_and_every_action():
    for grids in GRIDS.values():
        header = [COLUMNS[h] for grid in grids for h in grid.split("\n")[1].split() if h != "|"]
        assert sorted(header) == sorted(policy.ACTIONS), "columns: exactly the actions"
    for state in SPACES:
        covered = {(role, action) for s, role, action, _ in CELLS if s == state}
        assert covered == {(r, a) for r in ROLES for a in policy.ACTIONS}
    required = {
        "anonymous",
        "stranger",
        "listener",
        "requester",
        "invited",
        "speaker",
        "host",
        "removed",
        "blocked_by_host",
        "admin",
        "protected",
    }
    assert required <= set(ROLES)
    assert len(CELLS) == len(ROLES) * len(policy.ACTIONS) * 2
    assert len(CELLS) >= 700
    print(
        f"authorization matrix: {len(CELLS)} cells ({len(ROLES)} roles x "
        f"{len(policy.ACTIONS)} actions x live/ended)"
    )


@pytest.mark.parametrize(
    ("state", "role", "action", "mark"), CELLS, ids=[f"{s}-{r}-{a}" for s, r, a, _ in CELLS]
)
def test_cell(state, role, action, mark):
    space = SPACES[state]
    target = TARGETS.get(action)
    reason = policy.why(ROLES[role], action, space, target)
    allowed = policy.can(ROLES[role], action, space, target)
    if mark == "+":
        assert reason is None
        assert allowed
    else:
        assert reason == REASONS[mark]
        assert not allowed


# The host acting on people an action does not suit ----------------------------------------------

HOST = ROLES["host"]
UNSUITABLE = [
    ("approve", LISTENER, "There is no such request."),
    ("approve", SPEAKER, "There is no such request."),
    ("approve", Actor(user_id=110, requested=True), "They are not in the Space."),
    ("deny", LISTENER, "There is no such request."),
    ("make_speaker", SPEAKER, "They are already on stage."),
    ("make_speaker", OUTSIDER, "They are not in the Space."),
    ("invite", SPEAKER, "They are already on stage."),
    ("invite", Actor(user_id=111, removed=True), "They cannot join this Space."),
    ("invite", Actor(user_id=112, blocked_by_host=True), "They cannot join this Space."),
    ("move_to_listeners", LISTENER, "They are not a speaker."),
    ("move_to_listeners", OUTSIDER, "They are not in the Space."),
    ("mute", SPEAKER, "Their microphone is off."),
    ("mute", LISTENER, "Their microphone is off."),
    ("remove", OUTSIDER, "They are not in the Space."),
    ("allow_back", LISTENER, "They were not removed from this Space."),
    ("allow_back", OUTSIDER, "They were not removed from this Space."),
    (
        "allow_back",
        Actor(user_id=113, removed=True, blocked_by_host=True),
        "You blocked them: unblock them on their profile first.",
    ),
]


@pytest.mark.parametrize(("action", "target", "reason"), UNSUITABLE)
def test_host_against_unsuitable_targets(action, target, reason):
    assert policy.why(HOST, action, LIVE, target) == reason
    assert not policy.can(HOST, action, LIVE, target)


@pytest.mark.parametrize(
    ("action", "target"),
    [
        ("invite", LISTENER),  # in the room, by `Invite to speak`
        ("remove", SPEAKER),
        ("block", SPEAKER),
        ("block", OUTSIDER),  # the account block works on anyone
        ("report", OUTSIDER),
    ],
)
def test_host_against_other_suitable_targets(action, target):
    assert policy.why(HOST, action, LIVE, target) is None


@pytest.mark.parametrize("action", policy.TARGET_ACTIONS)
@pytest.mark.parametrize("role", ["host", "speaker", "listener"])
def test_nobody_targets_themselves(role, action):
    actor = ROLES[role]
    assert policy.why(actor, action, LIVE, actor) == "You cannot do that to yourself."


@pytest.mark.parametrize("action", policy.TARGET_ACTIONS)
@pytest.mark.parametrize("target", [None, Actor(user_id=None)], ids=["none", "anonymous"])
def test_target_actions_need_a_person(action, target):
    assert policy.why(HOST, action, LIVE, target) == "There is no such person."


@pytest.mark.parametrize("role", ["speaker", "listener"])
def test_anyone_in_the_room_may_block_and_report_even_the_host(role):
    """Blocking from the room is an account block, each person's own choice, on stage or not."""
    who, host_as_target = ROLES[role], ROLES["host"]
    assert policy.can(who, "block", LIVE, host_as_target)
    assert policy.can(who, "report", LIVE, host_as_target)
    assert policy.why(who, "remove", LIVE, host_as_target) == "Only the host can do that."


# Speaker policies -------------------------------------------------------------------------------

FOLLOWED = Actor(user_id=20, role="listener", followed_by_host=True)
NOT_FOLLOWED = Actor(user_id=21, role="listener")
INVITED_NOT_FOLLOWED = Actor(user_id=22, role="listener", invited=True)
INVITED_FOLLOWED = Actor(user_id=23, role="listener", invited=True, followed_by_host=True)
FOLLOWS_ONLY = "Only people the host follows can ask to speak."
INVITES_ONLY = "Only people the host invites can speak in this Space."

SPEAKER_POLICY_CELLS = [
    # policy, who, request, accept_invite
    ("everyone", FOLLOWED, None, "You have no invitation to speak."),
    ("everyone", NOT_FOLLOWED, None, "You have no invitation to speak."),
    ("everyone", INVITED_NOT_FOLLOWED, None, None),
    ("everyone", INVITED_FOLLOWED, None, None),
    ("following", FOLLOWED, None, "You have no invitation to speak."),
    ("following", NOT_FOLLOWED, FOLLOWS_ONLY, "You have no invitation to speak."),
    ("following", INVITED_NOT_FOLLOWED, FOLLOWS_ONLY, None),
    ("following", INVITED_FOLLOWED, None, None),
    ("invited", FOLLOWED, INVITES_ONLY, "You have no invitation to speak."),
    ("invited", NOT_FOLLOWED, INVITES_ONLY, "You have no invitation to speak."),
    ("invited", INVITED_NOT_FOLLOWED, INVITES_ONLY, None),
    ("invited", INVITED_FOLLOWED, INVITES_ONLY, None),
]


@pytest.mark.parametrize(("speaker_policy", "who", "ask", "accept"), SPEAKER_POLICY_CELLS)
def test_who_may_take_the_stage_under_each_speaker_policy(speaker_policy, who, ask, accept):
    space = {**LIVE, "speaker_policy": speaker_policy}
    assert policy.why(who, "request", space) == ask
    assert policy.why(who, "accept_invite", space) == accept


@pytest.mark.parametrize("speaker_policy", policy.POLICIES)
def test_host_approves_and_makes_speakers_under_every_policy(speaker_policy):
    space = {**LIVE, "speaker_policy": speaker_policy}
    assert policy.can(HOST, "approve", space, REQUESTING_LISTENER)
    assert policy.can(HOST, "make_speaker", space, LISTENER)
    assert policy.can(HOST, "invite", space, OUTSIDER)


def test_the_three_policies_and_their_labels():
    assert policy.POLICIES == ("everyone", "following", "invited")
    assert policy.POLICY_LABELS == {
        "everyone": "Everyone",
        "following": "People you follow",
        "invited": "Only people you invite",
    }
    assert policy.SPEAKER_CAP == 11


# Odd requests -----------------------------------------------------------------------------------


def test_unknown_action():
    assert policy.why(HOST, "launch_rockets", LIVE) == "Unknown action."
    assert not policy.can(HOST, "launch_rockets", LIVE)


def test_no_such_space():
    assert policy.why(ROLES["stranger"], "view", None) == "There is no such Space."
    assert policy.why(ROLES["anonymous"], "view", None) == "Sign in first."


# Creating a Space -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        (Actor(user_id=None), "Sign in to start a Space."),
        (Actor(user_id=2), None),
        (Actor(user_id=9, is_admin=True), None),
        (
            Actor(user_id=10, protected=True),
            "Accounts with protected posts cannot start Spaces. You can still join and speak.",
        ),
        (
            Actor(user_id=11, protected=True, is_admin=True),
            "Accounts with protected posts cannot start Spaces. You can still join and speak.",
        ),
    ],
    ids=["anonymous", "signed-in", "admin", "protected", "protected-admin"],
)
def test_may_create(actor, reason):
    assert policy.may_create(actor) == reason


# Co-hosts (issue 17) ----------------------------------------------------------------------------

CO = ROLES["cohost"]
NOT_THE_HOST = "No one can do that to the host."
NOT_A_COHOST = "Only the host can do that to a co-host."
HOST_MIC_ON = Actor(user_id=HOST_ID, role="host", mic_on=True)
COHOST_MIC_ON = Actor(user_id=108, role="speaker", cohost=True, mic_on=True)

COHOST_CELLS = [
    # who, action, target, reason (None: allowed)
    # A co-host does nothing to the host, present or away, but block and report them.
    (CO, "mute", HOST_MIC_ON, NOT_THE_HOST),
    (CO, "move_to_listeners", HOST, NOT_THE_HOST),
    (CO, "remove", HOST, NOT_THE_HOST),
    (CO, "invite", ROLES["host_away"], NOT_THE_HOST),
    (CO, "allow_back", Actor(user_id=HOST_ID, removed=True), NOT_THE_HOST),
    (CO, "block", HOST, None),
    (CO, "report", HOST, None),
    # ... nor to another co-host: the host chose them.
    (CO, "mute", COHOST_MIC_ON, NOT_A_COHOST),
    (CO, "move_to_listeners", COHOST, NOT_A_COHOST),
    (CO, "remove", COHOST, NOT_A_COHOST),
    (CO, "remove_cohost", COHOST, "Only the host can do that."),
    (CO, "make_cohost", SPEAKER, "Only the host can do that."),
    # Everyone else, as the host would: speakers too.
    (CO, "mute", SPEAKER_MIC_ON, None),
    (CO, "move_to_listeners", SPEAKER, None),
    (CO, "remove", SPEAKER, None),
    (CO, "make_speaker", SPEAKER, "They are already on stage."),
    (CO, "approve", LISTENER, "There is no such request."),
    # The host acts on co-hosts as on any speaker, and makes and unmakes them.
    (HOST, "mute", COHOST_MIC_ON, None),
    (HOST, "move_to_listeners", COHOST, None),
    (HOST, "remove", COHOST, None),
    (HOST, "make_cohost", SPEAKER, None),
    (HOST, "make_cohost", REQUESTING_LISTENER, None),
    (HOST, "make_cohost", COHOST, "They are already a co-host."),
    (HOST, "make_cohost", OUTSIDER, "They are not in the Space."),
    (HOST, "make_cohost", REMOVED, "They are not in the Space."),
    (HOST, "remove_cohost", SPEAKER, "They are not a co-host."),
    (HOST, "remove_cohost", Actor(user_id=109, cohost=True), "They are not in the Space."),
    # A co-host who is not in the room (the flag alone) runs nothing.
    (Actor(user_id=11, cohost=True), "approve", REQUESTING_LISTENER, "Only the host can do that."),
    (
        Actor(user_id=11, role="listener", cohost=True),
        "remove",
        LISTENER,
        "Only the host can do that.",
    ),
]


@pytest.mark.parametrize(("who", "action", "target", "reason"), COHOST_CELLS)
def test_cohosts_and_the_host_against_each_other(who, action, target, reason):
    assert policy.why(who, action, LIVE, target) == reason
    assert policy.can(who, action, LIVE, target) == (reason is None)


@pytest.mark.parametrize("speaker_policy", policy.POLICIES)
def test_cohosts_approve_and_make_speakers_under_every_policy(speaker_policy):
    """Whom the host follows decides who may ask, never whom a co-host may bring up."""
    space = {**LIVE, "speaker_policy": speaker_policy}
    assert policy.can(CO, "approve", space, REQUESTING_LISTENER)
    assert policy.can(CO, "deny", space, REQUESTING_LISTENER)
    assert policy.can(CO, "make_speaker", space, LISTENER)
    assert policy.can(CO, "invite", space, OUTSIDER)
    assert policy.why(CO, "set_policy", space) == "Only the host can do that."


def test_who_runs_the_room():
    assert HOST.runs_room and CO.runs_room
    assert not ROLES["speaker"].runs_room and not ROLES["host_away"].runs_room
    assert not Actor(user_id=11, role="listener", cohost=True).runs_room
    assert policy.MAX_COHOSTS == 2


# Scheduled Spaces (issue 18) ------------------------------------------------------------------
# A Space waiting to start: its page, reminders for others, the host's `Start now` and `Cancel
# Space`. Room actions wait for it to start ("N"). Cells by hand, as above.
SCHEDULED = {**LIVE, "scheduled_for": 1_800_003_600.0}
SCHEDULED_REASONS = {
    "S": "Sign in first.",
    "N": policy.NOT_STARTED,
    "H": "Only the host can do that.",
    "B": policy.BLOCKED,
    "Y": "You host this Space: you are told when it is due.",
    "P": "Accounts with protected posts cannot start Spaces. You can still join and speak.",
}
SCHEDULED_ROLES = {
    "anonymous": Actor(user_id=None),
    "stranger": Actor(user_id=2),
    "host": Actor(user_id=HOST_ID),
    "protected_host": Actor(user_id=HOST_ID, protected=True),  # protected since scheduling
    "blocked_by_host": Actor(user_id=8, blocked_by_host=True),
    "admin": Actor(user_id=9, is_admin=True),
}
#                  view  join  set_reminder  start_now  cancel
SCHEDULED_GRID = """
anonymous          S     S     S             S          S
stranger           +     N     +             H          H
host               +     N     Y             +          +
protected_host     +     N     Y             P          +
blocked_by_host    B     N     B             H          H
admin              +     N     +             H          H
"""
SCHEDULED_COLUMNS = ("view", "join", "set_reminder", "start_now", "cancel")
SCHEDULED_CELLS = [
    (role, action, mark)
    for line in SCHEDULED_GRID.strip().splitlines()
    for role, *marks in [line.split()]
    for action, mark in zip(SCHEDULED_COLUMNS, marks, strict=True)
]


@pytest.mark.parametrize(("role", "action", "mark"), SCHEDULED_CELLS)
def test_scheduled_cell(role, action, mark):
    expected = None if mark == "+" else SCHEDULED_REASONS[mark]
    assert policy.why(SCHEDULED_ROLES[role], action, SCHEDULED) == expected


@pytest.mark.parametrize("action", policy.ACTIONS)
def test_every_room_action_but_view_waits_for_a_scheduled_space(action):
    target = TARGETS.get(action)
    reason = policy.why(SCHEDULED_ROLES["host"], action, SCHEDULED, target)
    assert reason == (None if action == "view" else policy.NOT_STARTED)


@pytest.mark.parametrize("action", policy.SCHEDULE_ACTIONS)
@pytest.mark.parametrize(
    ("space", "reason"), [(LIVE, "This Space has started."), (ENDED, "This Space has ended.")]
)
def test_schedule_actions_only_while_it_waits(action, space, reason):
    assert policy.why(ROLES["host"], action, space) == reason


# Guest listeners (issue 18): a visitor without an account, before and after `Listen as a guest`
# (`join`; then `guest_in`), in a live Space, one whose host turned `Allow guests` off, and an
# ended one. They may look, listen (`leave` is "present", what the sockets ask) and read
# captions; nothing else.
GUEST_ROLES = {
    "guest": Actor(user_id=None, guest=True),
    "guest_in": Actor(user_id=None, guest=True, role="listener"),
}
NO_GUESTS = {**LIVE, "allow_guests": 0}
GUEST_SPACES = {"live": LIVE, "off": NO_GUESTS, "ended": ENDED}
GUEST_GRID = """
                    vw jn lv rq cr ai ss mc sa vc sh rs ed sp en ev | ap dn ms in ml mu rm ab bk rp
live  guest         +  +  J  G  G  G  G  G  G  J  G  G  G  G  G  G  | G  G  G  G  G  G  G  G  G  G
live  guest_in      +  +  +  G  G  G  G  G  G  +  G  G  G  G  G  G  | G  G  G  G  G  G  G  G  G  G
off   guest         N  N  N  G  G  G  G  G  G  N  G  G  G  G  G  G  | G  G  G  G  G  G  G  G  G  G
off   guest_in      N  N  N  G  G  G  G  G  G  N  G  G  G  G  G  G  | G  G  G  G  G  G  G  G  G  G
ended guest         E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
ended guest_in      E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  E  | E  E  E  E  E  E  E  E  E  E
"""
# The columns added with co-hosts, reactions and pins (issue 17): a guest listening reacts
# (Clap, Laugh, Heart, Hundred; no hand: test_no_guest_raises_a_hand), once they listen and while
# the host allows guests; none of the others.
GUEST_GRID_ISSUE_17 = """
                    mh rh rc hs pn
live  guest         G  G  J  G  G
live  guest_in      G  G  +  G  G
off   guest         G  G  N  G  G
off   guest_in      G  G  N  G  G
ended guest         E  E  E  E  E
ended guest_in      E  E  E  E  E
"""


def parse_guests(grid: str) -> list[tuple[str, str, str, str]]:
    lines = [line.split() for line in grid.strip().splitlines()]
    header = [COLUMNS[h] for h in lines[0] if h != "|"]
    cells = []
    for row in lines[1:]:
        state, role, marks = row[0], row[1], [m for m in row[2:] if m != "|"]
        assert len(marks) == len(header), f"{state} {role}: {len(marks)} marks"
        cells += [(state, role, action, mark) for action, mark in zip(header, marks, strict=True)]
    return cells


GUEST_CELLS = parse_guests(GUEST_GRID) + parse_guests(GUEST_GRID_ISSUE_17)


def test_guest_matrix_covers_every_action_in_every_state():
    assert len(GUEST_CELLS) == len(GUEST_ROLES) * len(policy.ACTIONS) * len(GUEST_SPACES)
    covered = {(s, r, a) for s, r, a, _ in GUEST_CELLS}
    assert covered == {(s, r, a) for s in GUEST_SPACES for r in GUEST_ROLES for a in policy.ACTIONS}


@pytest.mark.parametrize(
    ("state", "role", "action", "mark"),
    GUEST_CELLS,
    ids=[f"{s}-{r}-{a}" for s, r, a, _ in GUEST_CELLS],
)
def test_guest_cell(state, role, action, mark):
    space = GUEST_SPACES[state]
    target = TARGETS.get(action)
    reason = policy.why(GUEST_ROLES[role], action, space, target)
    assert reason == (None if mark == "+" else REASONS[mark])
    assert policy.can(GUEST_ROLES[role], action, space, target) == (mark == "+")


def test_no_guest_is_ever_a_target_of_the_hosts_actions():
    """A guest has no name in the room: nothing can be done to them (they are not listed)."""
    host = ROLES["host"]
    for action in policy.TARGET_ACTIONS:
        assert not policy.can(host, action, LIVE, GUEST_ROLES["guest_in"]), action


def test_no_guest_raises_a_hand():
    """A raised hand asks to be brought on stage, which no guest can be: a guest who may react
    is told why not; otherwise the hand says what `react` says, for guests and accounts alike."""
    assert policy.why_hand(GUEST_ROLES["guest_in"], LIVE) == policy.GUESTS_NO_HAND
    assert policy.why_hand(GUEST_ROLES["guest"], LIVE) == "Join the Space first."
    assert policy.why_hand(GUEST_ROLES["guest_in"], NO_GUESTS) == policy.GUESTS_OFF
    assert policy.why_hand(GUEST_ROLES["guest_in"], ENDED) == "This Space has ended."
    for role, actor in ROLES.items():
        assert policy.why_hand(actor, LIVE) == policy.why(actor, "react", LIVE), role


def test_a_guest_sees_a_scheduled_space_but_listens_only_once_it_starts():
    scheduled = {**LIVE, "scheduled_for": 1_800_003_600.0}
    assert policy.why(GUEST_ROLES["guest"], "view", scheduled) is None
    assert policy.why(GUEST_ROLES["guest"], "join", scheduled) == policy.NOT_STARTED
    assert policy.why(GUEST_ROLES["guest"], "view_captions", scheduled) == policy.NOT_STARTED
    assert policy.why(GUEST_ROLES["guest_in"], "react", scheduled) == policy.NOT_STARTED
