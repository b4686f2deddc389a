"""The socket of a page outside rooms (a scheduled Space, Explore): the site feed
(site_feed.py) pushes to it; the page says nothing but whether it is visible."""

import time

from flask import current_app, request
from simple_websocket import ConnectionClosed

from ..web import current_user, site_feed
from .close_codes import TOO_MANY
from .outbox import attach

MESSAGES_PER_SECOND = 10


def serve_feed(ws, page_kind: str, space_id: int = 0) -> None:
    """One page's socket (a scheduled Space or Explore): the site feed pushes to it; the page
    sends nothing but keep-alives. Its thread mostly waits, as a room page's does."""
    feed_ = site_feed()
    outbox = attach(
        ws, max_backlog=16, overflow="close", send_timeout=current_app.config["SOCKET_SEND_TIMEOUT"]
    )
    watcher = feed_.admit(current_user()["id"], outbox, page_kind, space_id, request.remote_addr)
    if watcher is None:
        outbox.close(TOO_MANY, "too many connections")
        return
    try:
        feed_.full_state(watcher)
        allowance, last = MESSAGES_PER_SECOND, time.monotonic()
        while not outbox.dead:
            # Pages say little here (app.js tells every socket whether the page is visible);
            # what they say is ignored, but a flood is cut off, as on the room's socket.
            message = ws.receive(timeout=5)
            if message is None:
                continue
            t = time.monotonic()
            allowance = min(MESSAGES_PER_SECOND, allowance + (t - last) * MESSAGES_PER_SECOND)
            last = t
            if allowance < 1:
                outbox.close(1008, "too many messages")
                break
            allowance -= 1
    except ConnectionClosed:
        pass
    finally:
        feed_.leave(watcher)
        if ws.connected:
            outbox.close(1000)
        outbox.finish()
