"""Edge nodes: processes without the database that serve listeners' audio sockets and room pages'
live sockets.

The core (spaces.serve, the one node with SQLite and the mixer) publishes each room's listener
audio to Redis once per codec (`mix_channel`: Opus for v2 listeners, PCM only while an edge has
v1 ones), each flush of its live hub once for the listeners' pages (`live_channel`,
`live_bridge`), and a verdict whenever a listener on an edge must go (`verdicts`); `python -m
spaces.edge` admits listeners holding a grant the core signed (spaces/grants.py) and fans the
published bytes out through the same non-blocking outbox (`node`, `pages`).
README, "Edge nodes", has the picture and the settings.
"""
