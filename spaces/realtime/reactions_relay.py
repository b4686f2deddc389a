"""Reactions on the room's live socket: checked per message, then sent to every page in the room.

A reaction never re-renders the room: it goes out as one small JSON message, built once and
pushed through every live connection's outbox, and static/reactions.js shows it on the reactor's
item (htmx's ws extension would parse it as HTML; the script takes it first). JSON rather than an
out-of-band fragment because a page may not show the reactor at all (only the first listeners are
listed) and the script also counts reactions for the screen-reader summary and takes the emoji
away after a few seconds.

A raised hand is room state, so raising or lowering it publishes a room event instead (the hub
re-renders the person's list, their controls and the Requests area, where everything else about
them is); a JSON message tells the pages' summaries who raised a hand.
"""

import json

from .. import accounts, reactions, room_render, rooms
from ..errors import DomainError
from ..events import Broker
from .hub import Connection, LiveHub
from .outbox import frame

MESSAGES = ("react", "hand")  # what a page may send: {"type": "react", "reaction": "clap"},
# {"type": "hand", "raised": true}


def receive(db, hub: LiveHub, board: reactions.Board, broker: Broker, conn: Connection, data):
    """One message from a room page (its `type` in MESSAGES), from an account's connection.

    Authorized per message from the database (the person may have left or been removed since
    the socket opened); a refusal is told to that page only. A guest's connection (no account)
    would build its own `Actor` and a `Reactor` keyed by the connection, and call the same
    `reactions.react` / `set_hand`."""
    try:
        space = rooms.get(db, conn.space_id)
        user = accounts.get(db, conn.user_id)
        if user is None:
            return
        who = rooms.actor(db, space, user)
        reactor = reactions.Reactor.of_user(user, who)
        if data.get("type") == "react":
            reaction = reactions.react(board, space, who, reactor, str(data.get("reaction")))
            if reaction is not None:
                send(hub, conn.space_id, reaction_message(reaction))
        elif isinstance(data.get("raised"), bool):
            raised = data["raised"]
            event = reactions.set_hand(board, space, who, reactor, raised, user["id"])
            if event is not None:
                broker.publish(event)
                send(hub, conn.space_id, hand_message(reactor, raised))
    except DomainError as refused:
        conn.outbox.push(frame(room_render.status(refused.message)))


def reaction_message(reaction: reactions.Reaction) -> dict:
    return {
        "type": "reaction",
        "who": reaction.reactor.key,
        "kind": reaction.kind,
        "label": reaction.label,
        "emoji": reaction.emoji,
    }


def hand_message(reactor: reactions.Reactor, raised: bool) -> dict:
    return {"type": "hand", "who": reactor.key, "name": reactor.name, "raised": raised}


def send(hub: LiveHub, space_id: int, message: dict) -> None:
    """The same frame to every room page open in the Space, built once."""
    data = frame(json.dumps(message))
    for conn in hub.connections(space_id):
        conn.outbox.push(data)
