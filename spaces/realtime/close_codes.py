"""How the room's two sockets (live and audio) end, beyond the standard codes.

One table for both, so a client reads a code the same way on either: docs/audio-protocol.md lists
them, the terminal client keeps a copy (spaces/cli/protocol.py), the browser's scripts (app.js,
audio/room-audio.js) and the htmx websocket extension reconnect on none of them.
"""

RESTART = 1012  # the server is restarting: reconnect with backoff
REMOVED = 4403  # the host removed or blocked you
LEFT = 4404  # you are not in the Space (you left, logged out, or started one of your own)
ENDED = 4410  # the Space ended
TOO_MANY = 4429  # too many sockets open for your account in this Space, or from your address
GUESTS_OFF = 4401  # a guest's sockets, when the host turns `Allow guests` off (issue 18)
