"""A visitor without an account on a live server: a browser tab that opened a Space's link and,
with `listen_to`, clicked `Listen as a guest`. Its sockets carry its session cookie, as a page's."""

from .http_user import HttpUser


class Guest(HttpUser):
    def __init__(self, base_url: str) -> None:
        self._open(base_url, "")  # no sign-up: the session cookie comes with the first page

    def listen_to(self, space_id: int) -> str:
        """Opens the Space's page and clicks `Listen as a guest`; answers the page's fragments."""
        self.get(f"/spaces/{space_id}")
        return self.act(f"/spaces/{space_id}/listen")

    @property
    def id(self) -> int:
        raise AttributeError("a guest has no account id")
