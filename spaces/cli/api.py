"""HTTP to a Spaces server: tokens and the room actions (join, microphone), with a bearer token.

Token requests carry no cookie, so the server does not ask them for a CSRF token. Redirects are
not followed: a redirect to /login means the token was refused.
"""

import html
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .exits import EXIT_ENDED, EXIT_ERROR, EXIT_REFUSED, CliError

LISTENER_MESSAGE = "You are a listener in this Space: ask the host to make you a speaker."
ENDED_MESSAGE = "This Space has ended."


@dataclass(frozen=True)
class SpaceURL:
    """`http://host:port/spaces/12` split into the server's base URL and the Space's id."""

    server: str
    space_id: int

    @classmethod
    def parse(cls, url: str) -> "SpaceURL":
        parts = urllib.parse.urlsplit(url.strip())
        match = re.fullmatch(r"(.*?)/spaces/(\d+)(?:/.*)?", parts.path)
        if parts.scheme not in ("http", "https") or not parts.netloc or not match:
            raise CliError(
                f"{url!r} is not a Space's address; it looks like https://example.org/spaces/12"
            )
        return cls(server_url(f"{parts.scheme}://{parts.netloc}{match.group(1)}"), int(match[2]))

    @property
    def page(self) -> str:
        return f"{self.server}/spaces/{self.space_id}"

    @property
    def audio(self) -> str:
        return "ws" + self.page.removeprefix("http") + "/audio"


def server_url(url: str) -> str:
    """The server's base URL as tokens are filed under it: scheme://host[:port][/prefix]."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"{url!r} is not a server address; it looks like https://example.org")
    path = parts.path.rstrip("/")
    if "/spaces/" in path + "/":
        path = path[: (path + "/").index("/spaces/")]
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def error_text(body: str) -> str:
    """The sentence in the server's error fragment or page, if there is one."""
    match = re.search(r'class="flash error">(.*?)</p>', body, re.S) or re.search(
        r'<div class="card">.*?<p>(.*?)</p>', body, re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


class Api:
    def __init__(self, server: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.server = server
        self.token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data or {}).encode() if method == "POST" else None
        # The server URL was checked to be http(s) (server_url, SpaceURL.parse).
        req = urllib.request.Request(self.server + path, data=body, method=method)  # noqa: S310
        for name, value in self.headers().items():
            req.add_header(name, value)
        # Room actions answer htmx requests with small fragments (errors included).
        req.add_header("HX-Request", "true")
        req.add_header("Accept", "text/html, application/json")
        try:
            with self._opener.open(req, timeout=self.timeout) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers or {}), exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"Cannot reach {self.server}: {reason}") from exc

    # Signing in ---------------------------------------------------------------------------------

    def get_token(self, username: str, password: str) -> dict:
        status, _, body = self.request(
            "POST", "/api/token", {"username": username, "password": password}
        )
        if status == 200:
            try:
                return json.loads(body)
            except ValueError as exc:
                raise CliError(f"{self.server} did not answer like a Spaces server.") from exc
        if status == 401:
            raise CliError("That username and password do not match.", EXIT_REFUSED)
        if status == 429:
            raise CliError("Too many sign-in attempts. Wait a minute and try again.")
        if status == 404:
            raise CliError(f"{self.server} does not look like a Spaces server (no /api/token).")
        raise CliError(f"Sign-in failed: the server answered {status}.")

    # The room ----------------------------------------------------------------------------------

    def me(self, space_id: int) -> int | None:
        """Checks the token and the Space; returns your user id as the room page states it."""
        status, _, body = self.request("GET", f"/spaces/{space_id}")
        self.check(status, body)
        match = re.search(r'data-me="(\d+)"', body)
        return int(match.group(1)) if match else None

    def join(self, space_id: int) -> None:
        status, _, body = self.request("POST", f"/spaces/{space_id}/join")
        self.check(status, body)

    def audio_addresses(self, space_id: int) -> list[str]:
        """Where the server sends this client's audio socket: edge nodes' URLs to try in turn
        (listeners, when the deployment has edges), or [] for the server's own socket."""
        try:
            status, _, body = self.request("GET", f"/spaces/{space_id}/audio-address")
            urls = json.loads(body)["urls"] if status == 200 else []
        except (CliError, ValueError, KeyError, TypeError):
            return []  # an older server, or none reachable now: its own socket, as before
        return [u if "://" in u else "ws" + self.server.removeprefix("http") + u for u in urls]

    def set_mic(self, space_id: int, on: bool) -> None:
        status, _, body = self.request(
            "POST", f"/spaces/{space_id}/mic", {"on": "1" if on else "0"}
        )
        if on and status == 403 and "speaker" in error_text(body).lower():
            raise CliError(LISTENER_MESSAGE, EXIT_REFUSED)
        self.check(status, body)

    def check(self, status: int, body: str) -> None:
        """Turns an HTTP refusal into a clear message and exit code."""
        if status < 300:
            return
        text = error_text(body)
        if status in (301, 302, 303, 307, 308, 401):
            raise CliError(
                f"{self.server} did not accept your sign-in: your token expired or was revoked."
                f" Run: spaces login {self.server}",
                EXIT_REFUSED,
            )
        if status == 410 or "has ended" in text:
            raise CliError(ENDED_MESSAGE, EXIT_ENDED)
        if status == 404:
            raise CliError(text or "There is no such Space.", EXIT_REFUSED)
        if status in (403, 409):
            raise CliError(text or "The server refused.", EXIT_REFUSED)
        if status == 429:
            raise CliError("Too many requests. Wait a minute and try again.")
        raise CliError(f"The server answered {status}" + (f": {text}" if text else "."), EXIT_ERROR)
