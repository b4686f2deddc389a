"""Edge nodes for tests, drills and the demo cluster: `python -m spaces.edge` in a subprocess
beside a LiveServer core, and the way a client dials the address the core gives
(GET /spaces/<id>/audio-address or live-address, then each URL in turn until one answers)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .http_user import HttpUser
from .server import ROOT, free_port, stop_process, wait_for_port
from .websocket import Refused, WebSocket


class LiveEdge:
    """One edge on 127.0.0.1, sharing the core's secret key and Redis."""

    def __init__(
        self, directory: Path, redis_url: str, secret_key: str, port: int | None = None, **env
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.log = self.directory / "edge.log"
        self.env = {
            **os.environ,
            "DATA_DIR": str(self.directory),
            "REDIS_URL": redis_url,
            "SECRET_KEY": secret_key,
            "EDGE_HOST": "127.0.0.1",
            "EDGE_PORT": str(self.port),
            "RATELIMIT_ENABLED": "0",
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> "LiveEdge":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spaces.edge"],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 (the child keeps it)
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.proc, self.log)
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def kill9(self) -> None:
        """kill -9 of gunicorn's master; its worker dies with it (PR_SET_PDEATHSIG)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


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
