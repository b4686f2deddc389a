"""Edge nodes for tests, drills and the demo cluster: `python -m spaces.edge` in a subprocess
beside a LiveServer core, and the way a client dials the address the core gives
(GET /spaces/<id>/audio-address or live-address, then each URL in turn until one answers)."""

import json
from pathlib import Path
from urllib.parse import urlsplit

from .http_user import HttpUser
from .server import ServedProcess, free_port
from .websocket import Refused, WebSocket


class LiveEdge(ServedProcess):
    """One edge on 127.0.0.1, sharing the core's secret key and Redis."""

    module = "spaces.edge"

    def __init__(
        self, directory: Path, redis_url: str, secret_key: str, port: int | None = None, **env
    ) -> None:
        port = port or free_port()
        own = {"DATA_DIR": str(Path(directory)), "REDIS_URL": redis_url, "SECRET_KEY": secret_key}
        address = {"EDGE_HOST": "127.0.0.1", "EDGE_PORT": str(port)}
        super().__init__(directory, port, {**own, **address, **env}, "edge.log")
        self.url = f"ws://127.0.0.1:{self.port}"


def audio_addresses(person: HttpUser, space_id: int, socket: str = "audio") -> list[str]:
    """What the core tells this person's client: the socket URLs to try, in order (`socket`:
    "audio", or "live" for the room page's live socket)."""
    return json.loads(person.get(f"/spaces/{space_id}/{socket}-address"))["urls"]


def dial_audio(person: HttpUser, space_id: int, query: str = "", **options) -> WebSocket:
    """Opens this person's audio socket where the core says (its own when it names no edge),
    trying the next edge when one does not answer; a refusal (Refused) is final. `query` is the
    wire format asked for (testkit.opus_wire.V2_QUERY for v2, "" for v1), as on the core."""
    urls = audio_addresses(person, space_id)
    if not urls:
        path = f"/spaces/{space_id}/audio" + (f"?{query}" if query else "")
        return person.websocket(path, **options)
    error: OSError | None = None
    for url in urls:
        parts = urlsplit(url)
        path = f"{parts.path}?{parts.query}" + (f"&{query}" if query else "")
        try:
            return WebSocket.connect(parts.port, path, **options)
        except Refused:
            raise
        except OSError as exc:  # this edge does not answer: the next one
            error = exc
    raise error


def dial_live(person: HttpUser, space_id: int, **options) -> WebSocket:
    """Opens this person's room-page socket where the core says, as static/edge-live.js does
    (the core's own when it names no edge)."""
    urls = audio_addresses(person, space_id, "live")
    if not urls:
        return person.websocket(f"/spaces/{space_id}/live", **options)
    error: OSError | None = None
    for url in urls:
        parts = urlsplit(url)
        try:
            return WebSocket.connect(parts.port, f"{parts.path}?{parts.query}", **options)
        except Refused:
            raise
        except OSError as exc:
            error = exc
    raise error
