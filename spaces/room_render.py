"""Rendering a room: the one place that turns a Space into HTML, so the first page, the htmx
answers and the socket pushes show the same thing.

`RoomRender` is the entry point: it reads who is where once and renders each live section once per
kind of viewer (host, speaker, listener, visitor), and again only for people who appear in it
(their own item has no Block or Report), so a push to a thousand listeners costs a few renders, not
a thousand. The functions after it render the fragments that stand alone: the person's controls,
their captions, a status line, and what replaces the room when it ended or they were removed.
"""

import dataclasses
import operator
from collections.abc import Iterable, Sequence

from flask import current_app, g, get_template_attribute, render_template, url_for
from markupsafe import Markup
from sqlite_utils import Database

from . import accounts, captions_store, guests, pins, policy, reactions, rooms
from .policy import Actor
from .templating import CSRF_SLOT

SECTION_TEMPLATES = {
    "meta": "rooms/_meta.html",
    "stage": "rooms/_stage.html",
    "listeners": "rooms/_listeners.html",
    "requests": "rooms/_requests.html",
    "pinned": "rooms/_pinned.html",  # pins.py
}


# Sections that are lists of rooms/_person.html items, and the presence lists they show.
PERSON_LISTS = {"stage": ("host", "speakers"), "listeners": ("listeners",)}


def target_actor(row: dict) -> Actor:
    return Actor(
        user_id=row["user_id"],
        role=row.get("role", "listener"),
        requested=row.get("requested_at") is not None,
        invited=bool(row.get("invited")),
        mic_on=bool(row.get("mic_on")),
        cohost=bool(row.get("cohost")),
    )


PERSON_ACTIONS = (
    ("make_speaker", "Make speaker", ""),
    ("invite", "Invite to speak", ""),
    ("make_cohost", "Make co-host", ""),  # co-hosts (issue 17)
    ("remove_cohost", "Remove co-host", ""),
    ("mute", "Mute", ""),
    ("move_to_listeners", "Move to listeners", ""),
    ("remove", "Remove", "danger"),
    ("block", "Block", "danger"),
)


def person_menu(viewer: Actor, space: dict, row: dict) -> dict:
    """What `viewer` may do to the person in `row`: the buttons of their item, by policy."""
    target = target_actor(row)
    actions = [
        (name.replace("_", "-"), label, cls)
        for name, label, cls in PERSON_ACTIONS
        if policy.can(viewer, name, space, target) and not (name == "invite" and row.get("invited"))
    ]
    return {
        "actions": actions,
        "report": policy.can(viewer, "report", space, target),
        "asked": row.get("requested_at") is not None and viewer.runs_room,
    }


def person_links(space: dict) -> dict:
    """URL prefixes for person items, built once per list: a url_for per button of 60 items
    was a third of a room's render time."""
    profile = url_for("people.profile", username="_")
    return {
        "room": url_for("rooms.room", space_id=space["id"]),
        "people": profile.removesuffix("_"),
        "report": url_for("reports.new"),
        "space_id": space["id"],
    }


ITEM_CACHE_SIZE = 8192
_viewer_facts = operator.attrgetter(
    *(f.name for f in dataclasses.fields(Actor) if f.name != "user_id")
)


def person_item(viewer: Actor, space: dict, row: dict) -> Markup:
    """One person's item as `viewer` sees it, from a cache of items rendered before.

    A room's lists repeat the same items for every page and every push (the first 60 listeners
    change rarely even when hundreds come and go), and rendering them was most of a room's render
    time. The key holds everything the item shows and every fact the rules read; the CSRF field
    is left as a slot and filled in for each viewer. The cache is the app's (its URLs are).
    """
    items: dict[tuple, str] = current_app.extensions.setdefault("spaces_person_items", {})
    uid = row["user_id"]
    key = (
        viewer.user_id is None,
        space["id"],
        space["host_id"],
        space["speaker_policy"],
        space["ended_at"] is None,
        _viewer_facts(viewer),  # the viewer's id is in the key only as "is it them"
        viewer.user_id == uid,
        uid,
        row["username"],
        row.get("display_name"),
        row.get("picture_version"),
        row.get("role"),
        bool(row.get("cohost")),
        bool(row.get("mic_on")),
        bool(row.get("invited")),
        row.get("requested_at") is not None,
        row.get("hand", False),  # a raised hand (reactions.py)
    )
    html = items.get(key)
    if html is None:
        person = get_template_attribute("rooms/_person.html", "person")
        shared, g.csrf_slot = g.get("csrf_slot"), True
        try:
            html = str(person(row, person_menu(viewer, space, row), person_links(space))).strip()
        finally:
            g.csrf_slot = shared
        if len(items) >= ITEM_CACHE_SIZE:
            items.clear()
        items[key] = html
    fill = current_app.jinja_env.globals["csrf_input"]()
    return Markup(html.replace(CSRF_SLOT, fill))  # noqa: S704 - rendered autoescaped


class RoomRender:
    """One Space's fragments for everyone looking at it, sharing the work between alike viewers.

    Made once per change (or page), so each section is rendered from one reading of presence.
    """

    def __init__(self, db: Database, space: dict, listeners_shown: int) -> None:
        self.db = db
        self.space = space
        self.presence = rooms.presence(db, space["id"], listeners_shown)
        self.roles = self.presence["roles"]
        self.cohosts = {r["user_id"] for r in self.presence["speakers"] if r["cohost"]}
        # Raised hands live in memory (reactions.py): marked on the items, listed in Requests.
        board = current_app.extensions["spaces_reactions"]
        self.presence["hands"] = reactions.mark_hands(board, space["id"], self.presence)
        self._listed = {
            "stage": {r["user_id"] for r in self.presence["host"] + self.presence["speakers"]},
            "listeners": {r["user_id"] for r in self.presence["listeners"]},
            "requests": {r["user_id"] for r in self.presence["requests"]},
            "meta": set(),
        }
        self._sections: dict[tuple, str] = {}
        self._controls: dict[int, str] = {}
        self._removed_people: list[dict] | None = None
        hub = current_app.extensions.get("spaces_hub")  # guests are counted by their sockets
        self.guests = hub.guest_count(space["id"]) if hub is not None else 0

    def viewer(self, user_id: int | None) -> Actor:
        """The viewer as the sections see them: only their role in this Space matters (and, for
        a speaker, whether they are a co-host: they see the host's controls). The viewer None is a
        guest listener (guest_room.py): they see the sections read-only."""
        if user_id is None:
            return guests.actor(listening=False)
        return Actor(user_id=user_id, role=self.roles.get(user_id), cohost=user_id in self.cohosts)

    def _kind(self, user_id: int | None) -> str | None:
        return "cohost" if user_id in self.cohosts else self.roles.get(user_id)

    def viewer_kind(self, user_id: int | None, sections: Iterable[str]) -> tuple:
        """Viewers of one kind see `sections` alike, so a push can share one frame among them:
        the same role (co-hosts apart from speakers), and listed in none of them (someone listed
        sees their own item). Guests (the viewer None) are a kind of their own."""
        if user_id is None:
            return ("guest", None)
        listed = any(user_id in self._listed.get(name, ()) for name in sections)
        return (self._kind(user_id), user_id if listed else None)

    def listed(self, sections: Iterable[str]) -> set[int]:
        """Everyone listed in `sections` (each sees their own item there): edges' listeners."""
        return set().union(*(self._listed.get(name, ()) for name in sections))

    def fragments(
        self,
        user_id: int,
        sections: Iterable[str] = SECTION_TEMPLATES,
        *,
        controls: dict | None = None,
        notices: Sequence[str] = (),
        captions: bool = False,
    ) -> str:
        """What changed on one person's page, as out-of-band swaps: the named `sections`, their
        own controls when `controls` is their account, their `notices` and their captions."""
        parts = [self.section(name, user_id) for name in SECTION_TEMPLATES if name in sections]
        if controls is not None:
            if controls["id"] not in self._controls:  # one person may have several pages open
                self._controls[controls["id"]] = controls_section(self.db, self.space, controls)
            parts.append(self._controls[controls["id"]])
        if notices:
            parts.append(status(" ".join(notices)))
        if captions:
            parts.append(captions_section(self.db, self.space, user_id, oob=True))
        return "".join(parts)

    def page(self, user: dict) -> dict:
        """What rooms/room.html shows: the fragments later changes replace, rendered in place.
        Only a person in the Space gets the room's live socket (see `live_socket`)."""
        html = {name: self.section(name, user["id"], oob=False) for name in SECTION_TEMPLATES}
        html["controls"] = controls_section(self.db, self.space, user, oob=False)
        html["captions"] = captions_section(self.db, self.space, user["id"])
        html["socket"] = live_socket(self.space, user["id"] in self.roles, oob=False)
        return {
            "space": self.space,
            "viewer": self.viewer(user["id"]),
            "sections": {name: Markup(part) for name, part in html.items()},  # noqa: S704 - rendered autoescaped
        }

    def section(self, name: str, user_id: int | None, oob: bool = True) -> str:
        """One section as `user_id` sees it, rendered once for each kind of viewer."""
        kind, listed = self.viewer_kind(user_id, (name,))
        key = (name, oob, kind, listed)
        if key not in self._sections:
            who = self.viewer(user_id)
            if listed is not None and name in PERSON_LISTS:
                self._sections[key] = self._with_own_item(name, who, oob)
            else:
                self._sections[key] = self._render(name, who, oob)
        return self._sections[key]

    def _render(self, name: str, who: Actor, oob: bool) -> str:
        return render_template(
            SECTION_TEMPLATES[name],
            space=self.space,
            presence=self.presence,
            removed=self._removed() if name == "requests" and who.runs_room else [],
            pinned=pins.pinned(self.db, self.space["id"]) if name == "pinned" else None,
            viewer=who,
            can=policy.can,
            person_item=person_item,
            policy_labels=policy.POLICY_LABELS,
            speaker_cap=policy.SPEAKER_CAP,
            guests=self.guests,
            guests_text=guests.count_text(self.guests),
            oob=oob,
        )

    def _removed(self) -> list[dict]:
        """The people the host removed (the host's Requests section lists them to let back)."""
        if self._removed_people is None:
            self._removed_people = rooms.removed_people(self.db, self.space["id"])
        return self._removed_people

    def _with_own_item(self, name: str, who: Actor, oob: bool) -> str:
        """The section as someone in it sees it. Only their own item differs from what others
        with their role see (nobody blocks or reports themselves), so the list is rendered once
        per role and only that item again: rendering the whole list for each of the 60 listeners
        shown cost ~0.5 s of CPU per change, which starved the server under churn."""
        generic = (name, oob, self._kind(who.user_id), None)
        if generic not in self._sections:
            # Anyone else with this role: the rules read the viewer's id only to spot "yourself".
            anyone = Actor(user_id=0, role=who.role, cohost=who.cohost)
            self._sections[generic] = self._render(name, anyone, oob)
        html = self._sections[generic]
        row = next(
            (
                r
                for group in PERSON_LISTS[name]
                for r in self.presence[group]
                if r["user_id"] == who.user_id
            ),
            None,
        )
        start = html.find(f'<li data-user-id="{who.user_id}" class="person">')
        end = html.find("</li>", start) + len("</li>")
        if row is None or start < 0:
            return self._render(name, who, oob)
        return html[:start] + str(person_item(who, self.space, row)) + html[end:]


def controls_section(db: Database, space: dict, user: dict, oob: bool = True) -> str:
    """The person's own controls: join, leave, request, accept, microphone, stop speaking."""
    who = rooms.actor(db, space, user)
    return render_template(
        "rooms/_controls.html",
        space=space,
        viewer=who,
        can=policy.can,
        why=policy.why,
        me=user,
        oob=oob,
        ask_consent=consent_needed(who, user),
        join_refusal=None if who.present else policy.why(who, "join", space),
        hand_raised=current_app.extensions["spaces_reactions"].is_raised(
            space["id"], reactions.user_key(user["id"]), who.role
        ),
    )


def captions_section(db: Database, space: dict, user_id: int, oob: bool = False) -> str:
    """The `View captions` toggle and, when on and the person may view them (they are in the
    Space), the `Captions` log with the recent finals."""
    user = accounts.get(db, user_id)
    relay = current_app.extensions.get("spaces_captions")
    allowed = user is not None and policy.can(rooms.actor(db, space, user), "view_captions", space)
    on = allowed and bool(user["view_captions"])
    return Markup(  # noqa: S704 - an autoescaped template's output
        render_template(
            "rooms/_captions.html",
            space=space,
            captions_on=on,
            captions_available=bool(relay and relay.status()["available"]),
            recent=captions_store.for_space(db, space["id"], limit=20) if on else [],
            oob=oob,
        )
    )


def caption_lines(finals: list[dict], partials: list[dict]) -> str:
    """New final captions appended to the log, and the partials shown under it."""
    return render_template("rooms/_caption_push.html", finals=finals, partials=partials)


def status(text: str, target: str = "status") -> str:
    """A line in the page's status area (what an action did, a notice from the host), or in
    another status line (`share-status`, inside the Share dialog, where the person is looking)."""
    return render_template("rooms/_status.html", text=text, target=target)


def ran_for(space: dict) -> str:
    """How long an ended Space ran, as its ended page says it: "It ran for 1 hour 5 minutes."."""
    minutes = int(((space["ended_at"] or space["created_at"]) - space["created_at"]) // 60)
    if minutes < 1:
        return "It ran for less than a minute."
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"))
        if n
    ]
    return "It ran for " + " ".join(parts) + "."


def ended(space: dict, oob: bool = True) -> str:
    """Replaces the whole room once it has ended: what ended, who hosted it, how long it ran."""
    return render_template("rooms/_ended.html", space=space, oob=oob, ran_for=ran_for(space))


def removed(space: dict, blocked: bool = False) -> str:
    """Replaces the whole room for someone the host removed, or (`blocked`) blocked before they
    were ever in it."""
    reason = policy.BLOCKED if blocked else None
    return render_template("rooms/_removed.html", space=space, blocked=reason)


def live_socket(space: dict, connect: bool, oob: bool = True) -> str:
    """The element that holds the room's live socket: with `connect` (the person is in the Space)
    htmx opens it; swapped for one without, it closes. Swapped only when someone joins or leaves,
    so other changes never reopen the socket."""
    return render_template("rooms/_live_socket.html", space=space, connect=connect, oob=oob)


def membership(db: Database, space: dict, user: dict, notices: Sequence[str] = ()) -> str:
    """What changes on a person's page when they join or leave: their controls, their captions
    (only people in the Space see them), the live socket, and what they are told."""
    present = rooms.actor(db, space, user).present
    parts = [
        controls_section(db, space, user),
        captions_section(db, space, user["id"], oob=True),
        live_socket(space, present),
    ]
    if notices:
        parts.append(status(" ".join(notices)))
    return "".join(parts)


def consent_needed(viewer: Actor, user: dict) -> bool:
    """The `Captions` consent dialog shows once: to someone on stage who was never asked."""
    return viewer.on_stage and user.get("caption_consent") is None
