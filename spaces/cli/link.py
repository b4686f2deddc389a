"""The audio socket (docs/audio-protocol.md): connect with the bearer token, map refusals and
close codes to clear messages, and reconnect with backoff after network trouble or a restart."""

import contextlib
import threading
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from .api import ENDED_MESSAGE, Api, SpaceURL
from .exits import EXIT_ENDED, EXIT_ERROR, EXIT_OK, EXIT_REFUSED, CliError
from .protocol import ENDED, LEFT, REMOVED, TOO_MANY

RETRY_CODES = {1006, 1011, 1012, 1013}  # network trouble, server error or restart: reconnect
BACKOFF = (0.25, 0.5, 1.0, 2.0)
RECONNECT_FOR = 10.0  # seconds; the server keeps your role this long

CLOSE_MESSAGES = {
    REMOVED: ("The host removed you from this Space.", EXIT_REFUSED),
    LEFT: (
        "You are no longer in this Space (you left it, or logged out, elsewhere).",
        EXIT_REFUSED,
    ),
    TOO_MANY: (
        "Too many connections to this Space are open for your account or your address."
        " Close one, then try again.",
        EXIT_REFUSED,
    ),
    ENDED: (ENDED_MESSAGE, EXIT_ENDED),
    1000: ("The server closed the audio connection.", EXIT_OK),
    1008: ("The server closed the audio connection: the client broke its rules.", EXIT_ERROR),
    1009: ("The server refused a message as too big (over 4 KiB).", EXIT_ERROR),
}
HANDSHAKE_MESSAGES = {
    401: (
        "The server did not accept your sign-in: your token expired or was revoked."
        " Run: spaces login {server}",
        EXIT_REFUSED,
    ),
    403: ("The server refused the audio connection: you are not in this Space.", EXIT_REFUSED),
    404: ("There is no such Space.", EXIT_REFUSED),
    410: (ENDED_MESSAGE, EXIT_ENDED),
}


def with_query(address: str, query: str) -> str:
    """The address with the wire format's query (V2_QUERY) added: an edge's address already has
    a query (its grant), so the format joins it rather than starting a second one."""
    if not query or "?" not in address:
        return address + query
    return address + "&" + query.removeprefix("?")


class Closed(CliError):
    """The socket closed for good (`code` is the websocket close code)."""

    def __init__(self, message: str, exit_code: int, close_code: int) -> None:
        super().__init__(message, exit_code)
        self.close_code = close_code


class AudioLink:
    """One participant's audio socket. Not thread-safe: one thread sends and receives."""

    def __init__(
        self,
        url: SpaceURL,
        token: str,
        say: Callable[[str], None] = lambda _m: None,
        open_timeout: float = 10.0,
        query: str = "",
        stop: threading.Event | None = None,
    ) -> None:
        self.url = url
        self.stop = stop or threading.Event()  # set (Ctrl-C): a reconnection gives up at once
        self.query = query  # the wire format asked for (protocol.V2_QUERY, or "" for v1)
        self.token = token
        self.say = say
        self.open_timeout = open_timeout
        self.ws = None
        self._stack = contextlib.ExitStack()
        self.reconnects = 0

    def __enter__(self) -> "AudioLink":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._connect()
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise CliError(f"Cannot open the audio connection to {self.url.server}: {exc}") from exc

    def _connect(self) -> None:
        """Raises CliError for a refusal (final), the network's own errors otherwise. Asks the
        server first where to connect (edge nodes, README "Edge nodes"): an edge that does not
        answer is passed over for the next."""
        edges = Api(self.url.server, self.token, self.open_timeout).audio_addresses(
            self.url.space_id
        )
        for n, edge in enumerate(edges):
            try:
                return self._dial(edge, {})  # the grant is in the URL; the token stays home
            except (OSError, TimeoutError) as exc:
                if n == len(edges) - 1:
                    raise
                self.say(f"An audio server did not answer ({exc}); trying another.")
        return self._dial(self.url.audio, {"Authorization": f"Bearer {self.token}"})

    def _dial(self, address: str, headers: dict[str, str]) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        try:
            self.ws = self._stack.enter_context(
                connect(
                    with_query(address, self.query),
                    additional_headers=headers,
                    compression=None,  # audio does not compress; spare both ends the CPU
                    max_size=64 * 1024,
                    open_timeout=self.open_timeout,
                    close_timeout=2,
                )
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            message, code = HANDSHAKE_MESSAGES.get(
                status, (f"The server refused the audio connection ({status}).", EXIT_ERROR)
            )
            raise CliError(message.format(server=self.url.server), code) from exc

    def close(self) -> None:
        self._stack.close()
        self.ws = None

    def send(self, data: bytes) -> None:
        try:
            self.ws.send(data)
        except ConnectionClosed as exc:
            self._recover(exc)

    def recv(self, timeout: float | None) -> bytes | str | None:
        """The next message, or None after `timeout` seconds (0: only what already arrived)."""
        try:
            return self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            self._recover(exc)
            return None

    def _recover(self, exc: ConnectionClosed) -> None:
        """Raises `Closed` for a final close; reconnects (with backoff) after a transient one."""
        code = exc.rcvd.code if exc.rcvd is not None else 1006
        if code not in RETRY_CODES:
            message, exit_code = CLOSE_MESSAGES.get(
                code, (f"The server closed the audio connection ({code}).", EXIT_ERROR)
            )
            raise Closed(message, exit_code, code) from exc
        self.say("The audio connection dropped; reconnecting...")
        deadline = time.monotonic() + RECONNECT_FOR
        attempt = 0
        while True:
            if self.stop.wait(BACKOFF[min(attempt, len(BACKOFF) - 1)]):
                return  # the caller's loop sees the same flag and ends
            attempt += 1
            try:
                self._connect()  # a refusal now (removed, ended...) is final: CliError
            except (OSError, TimeoutError, InvalidHandshake) as error:
                if self.stop.is_set():
                    return
                if time.monotonic() > deadline:
                    raise CliError(
                        f"Lost the audio connection to {self.url.server}: {error}"
                    ) from error
                continue
            self.reconnects += 1
            self.say("Reconnected.")
            return
