"""Ctrl-C as a flag the send and receive loops check, not an exception thrown into whatever runs.

A KeyboardInterrupt can land inside the websocket library while it holds a lock of its own;
closing the connection then waits on that lock for ever (a listener once ignored Ctrl-C that way).
The first Ctrl-C asks the loops to stop, which they do within a fraction of a second and close
cleanly; a second one is the usual KeyboardInterrupt, for a stop that itself hangs.
"""

import contextlib
import signal
import threading


@contextlib.contextmanager
def ctrl_c_as_flag():
    """Yields an Event set by the first Ctrl-C (SIGINT) while the block runs."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed  # signal handlers belong to the main thread; nothing to change
        return

    def on_sigint(signum, frame):
        if pressed.is_set():
            raise KeyboardInterrupt
        pressed.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
