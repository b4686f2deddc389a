"""Reactions on the room's live socket: checked per message, then sent to every page in the room.

A reaction never re-renders the room: it goes out as one small JSON message, built once and
pushed through every live connection's outbox, and static/reactions.js shows it on the reactor's
item (htmx's ws extension would parse it as HTML; the script takes it first). JSON rather than an
out-of-band fragment because a page may not show the reactor at all (only the first listeners are
listed) and the script also counts reactions for the screen-reader summary and takes the emoji
away after a few seconds.

A guest's connection reacts like an account's, under a key of their own and shown as from "a
guest" (reactions.py); a guest raises no hand (policy.why_hand).

A raised hand is room state, so raising or lowering it publishes a room event instead (the hub
re-renders the person's list, their controls and the Requests area, where everything else about
them is); a JSON message tells the pages' summaries who raised a hand.

The JSON messages reach every node's pages: they travel on a broker of their own (`hub.shouts`,
the SHOUTS channel with REDIS_URL set), not the room events' one, whose subscribers would each
look at every clap. Edges get them from the node that took the reaction.
"""

import json

from .. import accounts, guests, reactions, room_render, rooms
from ..errors import DomainError
from ..events import Broker, RoomEvent
from ..policy import Actor
from .hub import Connection, LiveHub
from .outbox import frame

SHOUTS = "spaces:reactions"  # the Redis channel of the reactions' broker
SHOUT = "shout"  # the kind of its events: extra = {"message": ..., "sender": user id or None}
MESSAGES = ("react", "hand")  # what a page may send: {"type": "react", "reaction": "clap"},
# {"type": "hand", "raised": true}


def receive(db, hub: LiveHub, board: reactions.Board, broker: Broker, conn: Connection, data):
    """One message from a room page (its `type` in MESSAGES), from an account's or a guest's
    connection.

    Authorized per message (the person may have left or been removed since the socket opened, or
    the host turned guests off); a refusal is told to that page only."""
    try:
        space = rooms.get(db, conn.space_id)
        person = _person(db, space, conn)
        if person is None:
            return
        who, reactor, user_id = person
        if data.get("type") == "react":
            reaction = reactions.react(board, space, who, reactor, str(data.get("reaction")))
            if reaction is not None:
                send(hub, conn.space_id, reaction_message(reaction), conn.user_id)
        elif isinstance(data.get("raised"), bool):
            raised = data["raised"]
            event = reactions.set_hand(board, space, who, reactor, raised, user_id)
            if event is not None:
                broker.publish(event)
                send(hub, conn.space_id, hand_message(reactor, raised))
    except DomainError as refused:
        conn.outbox.push(frame(room_render.status(refused.message)))


def _person(
    db, space: dict, conn: Connection
) -> tuple[Actor, reactions.Reactor, int | None] | None:
    """Who sends on `conn`, as the rules see them: an account from the database; a guest by their
    connection, listening while it is open (it was let in only while their session said so, and
    `Leave` or guests turned off close it)."""
    if conn.guest:
        who = guests.actor(listening=conn.open)
        return who, reactions.Reactor.of_guest(conn.user_id, who), None
    user = accounts.get(db, conn.user_id)
    if user is None:
        return None
    who = rooms.actor(db, space, user)
    return who, reactions.Reactor.of_user(user, who), user["id"]


def reaction_message(reaction: reactions.Reaction) -> dict:
    message = {
        "type": "reaction",
        "who": reaction.reactor.slot,
        "kind": reaction.kind,
        "label": reaction.label,
        "emoji": reaction.emoji,
    }
    if reaction.reactor.username is None:
        message["from"] = reactions.GUEST_NAME  # pages name no guest: "Clap from a guest"
    return message


def hand_message(reactor: reactions.Reactor, raised: bool) -> dict:
    return {"type": "hand", "who": reactor.key, "name": reactor.name, "raised": raised}


def send(hub: LiveHub, space_id: int, message: dict, sender: int | None = None) -> None:
    """To every room page open in the Space, on every node (`deliver` there); to edges from
    here."""
    event = RoomEvent(space_id, kind=SHOUT, extra={"message": message, "sender": sender})
    if hub.shouts is not None:
        hub.shouts.publish(event)
    else:
        deliver(hub, event)
    if hub.edges is not None:
        hub.edges.reaction(space_id, message, sender)


def deliver(hub: LiveHub, event: RoomEvent) -> None:
    """The same frame to every room page of the Space on this node, built once; the sender's
    own pages get it marked `mine` (a guest's page cannot tell its reactions from other guests'
    by `who`, and its summary leaves out what its person did, as an account's does)."""
    message, sender = event.extra["message"], event.extra.get("sender")
    data = frame(json.dumps(message))
    own = frame(json.dumps({**message, "mine": True})) if sender is not None else data
    for conn in hub.connections(event.space_id):
        conn.outbox.push(own if conn.user_id == sender else data)
