"""A Space where people speak: the host puts them on stage over HTTP, every microphone goes on,
and the speaker process streams their speech."""

import contextlib
from collections.abc import Iterator

from testkit.http_user import HttpUser

from .speakers import Speakers

SPEAKERS = 11  # the host and ten more: the most a Space has on stage


def seat(host: HttpUser, speakers: list[HttpUser], space: int) -> None:
    """Joins each person and puts them on stage; every microphone (the host's too) on."""
    room = f"/spaces/{space}"
    for person in speakers:
        person.join(space)
        host.act(f"{room}/people/{person.id}/make-speaker")
    for person in [host, *speakers]:
        person.get(room)
        person.act(room + "/mic", {"on": "1"})


@contextlib.contextmanager
def speaking_space(
    port: int, host: HttpUser, stage: list[HttpUser], title: str, v2: bool = False
) -> Iterator[tuple[int, Speakers]]:
    """A new Space with the host and `stage` on it, each streaming real speech on the room's
    audio socket (the host also the bursts; v2: Opus, no bursts)."""
    with Speakers(port, v2=v2) as speakers:
        space = host.open_space(title)
        seat(host, stage, space)
        audio = f"/spaces/{space}/audio" + ("?v=2&codec=opus" if v2 else "")
        speakers.connect([(audio, p.cookie_header()) for p in [host, *stage]])
        yield space, speakers
