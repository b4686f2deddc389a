"""simple-websocket's reader thread, which the audio socket may do without.

Every socket flask-sock serves gets a thread that reads it (simple-websocket's `_thread`). The
audio route may hand a listener's socket to the listener relay's process, which reads it there,
so its request says `g.read_later` and the thread starts only if the view calls `read()`.
"""

import threading

from flask import g, has_request_context


class ReaderThread(threading.Thread):
    """SOCK_SERVER_OPTIONS' thread_class: starts with the socket, unless the request deferred it."""

    def start(self) -> None:
        if has_request_context() and g.get("read_later"):
            return
        super().start()

    def read(self) -> None:
        """The view keeps this socket: simple-websocket reads it from now on."""
        super().start()
