"""A person on a live server over real HTTP, as a browser is: cookies, the page's CSRF token,
htmx's header, redirects followed; and their websockets, which carry the same cookies."""

import copy
import http.client
import re
import time
import urllib.parse

from .listen import Ear
from .passwords import PASSWORD
from .speak import Mouth
from .websocket import WebSocket

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
SPACE_ID_RE = re.compile(r'data-space-id="(\d+)"')


def csrf_token(html: str) -> str:
    return CSRF_RE.search(html).group(1)


def local(url: str) -> str:
    """The path and query of a URL (redirects may name the whole address)."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class HttpUser:
    """A person signed up (or, with `signed_in`, already signed in) on the server at base_url."""

    def __init__(self, base_url: str, username: str, password: str = PASSWORD) -> None:
        self._open(base_url, username)
        self.get("/signup")
        status, body = self.post("/signup", {"username": username, "password": password}, False)
        assert status == 200, (status, body[:300])

    @classmethod
    def signed_in(
        cls, base_url: str, username: str, user_id: int, session: str, token: str
    ) -> "HttpUser":
        """A person whose session cookie and CSRF token were made without HTTP (for crowds)."""
        person = cls.__new__(cls)
        person._open(base_url, username)
        person.cookies["session"] = session
        person.token, person._id = token, user_id
        return person

    def _open(self, base_url: str, username: str) -> None:
        self.base = base_url
        self.port = urllib.parse.urlsplit(base_url).port
        self.username = username
        self.cookies: dict[str, str] = {}
        self.token = ""
        self._id: int | None = None

    def clone(self) -> "HttpUser":
        """The same session for another thread."""
        other = copy.copy(self)
        other.cookies = dict(self.cookies)
        return other

    # HTTP ----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, data: dict | None = None, htmx: bool = True):
        """(status, body); a redirect is followed with a GET, as a browser does."""
        for _ in range(5):
            status, body, location = self._once(method, path, data, htmx)
            if status not in (301, 302, 303) or not location:
                break
            method, path, data, htmx = "GET", urllib.parse.urljoin(path, location), None, False
        if method == "GET" and (token := CSRF_RE.search(body)):
            self.token = token.group(1)  # the page's token, as the page's own requests send it
        return status, body

    def _once(self, method: str, path: str, data: dict | None, htmx: bool):
        headers = {}
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        body = None
        if method == "POST":
            body = urllib.parse.urlencode(data or {})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.token
            headers["Origin"] = self.base
        if htmx:
            headers["HX-Request"] = "true"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, local(path), body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    self._keep_cookie(value)
            return response.status, text, response.getheader("Location")
        finally:
            conn.close()

    def _keep_cookie(self, set_cookie: str) -> None:
        name, _, value = set_cookie.split(";", 1)[0].partition("=")
        if value:
            self.cookies[name.strip()] = value
        else:
            self.cookies.pop(name.strip(), None)

    def get(self, path: str) -> str:
        return self.request("GET", path, htmx=False)[1]

    def post(self, path: str, data: dict | None = None, htmx: bool = True):
        return self.request("POST", path, data, htmx)

    def act(self, path: str, data: dict | None = None) -> str:
        """An htmx POST that must succeed."""
        status, body = self.post(path, data)
        assert status == 200, (path, status, body[:300])
        return body

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    @property
    def id(self) -> int:
        if self._id is None:
            html = self.get(f"/u/{self.username}")
            self._id = int(re.search(r'data-me="(\d+)"', html).group(1))
        return self._id

    # Spaces --------------------------------------------------------------------------------------

    def open_space(self, title: str = "Live room", policy: str = "everyone") -> int:
        """Starts a Space from the form; answers its id."""
        status, body = self.post(
            "/spaces/new", {"title": title, "speaker_policy": policy}, htmx=False
        )
        assert status == 200, body[:300]
        return int(SPACE_ID_RE.search(body).group(1))

    def join(self, space_id: int) -> None:
        """Opens the room page and joins, as the Join button does."""
        self.get(f"/spaces/{space_id}")
        self.act(f"/spaces/{space_id}/join")

    # Sockets -------------------------------------------------------------------------------------

    def websocket(self, path: str, port: int | None = None, **options) -> WebSocket:
        """A websocket on `path` with this person's cookies (`port`: through a proxy)."""
        return WebSocket.connect(port or self.port, path, self.cookie_header(), **options)

    def listen(
        self, path: str, reconnect: bool = False, keep_text: bool = True, port: int | None = None
    ) -> Ear:
        """An Ear on `path` (`reconnect`: dialling again as a page does)."""
        return Ear(lambda: self.websocket(path, port), reconnect, keep_text)

    def listen_once_let_in(self, path: str, within: float = 10) -> Ear | None:
        """An Ear on `path` that the server let in (it sent something), dialled again while it
        is refused: the person's earlier sockets, closed, are counted out of their cap a moment
        after (the listener relay tells the core). None if not let in within `within`."""
        deadline = time.monotonic() + within
        while True:
            ear = self.listen(path)
            if ear.heard_from_server(min(2.0, within)) and not ear.closed.is_set():
                return ear
            ear.stop()
            if time.monotonic() > deadline:
                return None

    def speak(self, path: str, frames, reconnect: bool = False, port: int | None = None) -> Mouth:
        """A Mouth on `path`, sending `frames` in a loop."""
        return Mouth(lambda: self.websocket(path, port), frames, reconnect)
