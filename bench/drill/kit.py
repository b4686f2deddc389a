"""What the drills share: their figures, the fan-out benchmark's listener pool and measuring
window, crowds joining a room, and what the database and the pages say about presence."""

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fanout.listeners import Pool
from fanout.speakers import Speakers
from fanout.window import Step, measure

from testkit.html_query import parse
from testkit.http_user import HttpUser
from testkit.server import LiveServer


class Figures(dict):
    """The figures of one drill, in the order they were set; `check()` notes why its behaviour
    failed (lost frames, wrong presence, errors), `target()` which speed target it missed."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []
        self.missed: list[str] = []

    def check(self, condition: bool, why: str) -> bool:
        if not condition:
            self.failures.append(why)
        return condition

    def target(self, condition: bool, why: str) -> bool:
        """A speed target (a p95, say): missed, the drill reads MISSED rather than FAIL, so the
        tests that run the small drills on a busy machine judge behaviour only."""
        if not condition:
            self.missed.append(why)
        return condition


def fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.1f}" if abs(value) >= 10 or value == 0 else f"{value:.2f}"
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Background:
    """A loop on a thread while a `with` block runs."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        self.thread.join(5)


# Listener crowds ---------------------------------------------------------------------------------


class ListenerPool(Pool):
    """The benchmark's listener processes (one in four probes latency, the others count every
    frame), remembering the last window's per-socket figures; closed on leaving a `with`."""

    last_stop: list = []

    def __init__(self, count: int) -> None:
        super().__init__(count, probe_every=4, lazy_every=0.04)

    def __enter__(self) -> "ListenerPool":
        return self

    def __exit__(self, *_exc) -> None:
        """Closes every socket (best effort: a drill may have failed half-way) and the workers."""
        with contextlib.suppress(Exception):
            self.close()
        self.exit()

    def ask(self, command: tuple) -> list:
        replies = super().ask(command)
        if command[0] == "stop":
            self.last_stop = replies
        return replies

    def rates(self) -> list[float]:
        """Frames per second of every open socket that received audio in the last window."""
        out = []
        for _, w0, w1, _cpu, figures in self.last_stop:
            out += [f / (w1 - w0) for ok, f, *_rest in figures if ok and f > 0]
        return out

    def closed(self) -> list[str]:
        return [
            e or "closed"
            for *_, figures in self.last_stop
            for ok, _f, _b, _bursts, e, *_v2 in figures
            if not ok
        ]

    def measure(self, speakers: Speakers, server: LiveServer, seconds: float) -> Step:
        """One measuring window of the fan-out benchmark (latency, frames lost, dropped, CPU)."""
        return measure(Step("spaces", 0), self, speakers, [server.pid], seconds)


def join_many(room: str, crowd: list[HttpUser], threads: int = 8) -> list[str]:
    """Each person opens the room page and joins over HTTP; answers their Cookie headers."""

    def one(person: HttpUser) -> str:
        person.get(room)
        person.act(room + "/join")
        return person.cookie_header()

    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, crowd))


def connect_crowd(pool: Pool, port: int, room: str, crowd: list, sockets=("/audio",)) -> list:
    """The crowd joins 100 at a time, each opening `sockets` within the presence grace period;
    answers the pool's sync replies."""
    for start in range(0, len(crowd), 100):
        cookies = join_many(room, crowd[start : start + 100])
        for path in sockets:
            pool.connect(port, room + path, cookies)
    return pool.ask(("sync",))


# What the server says ----------------------------------------------------------------------------


def present(server: LiveServer, space: int) -> dict[int, str]:
    """Who is present in the Space, with their roles (the database)."""
    rows = server.sql(
        "SELECT user_id, role FROM participants WHERE space_id = ? AND present = 1", (space,)
    )
    return dict(rows)


def make_admin(server: LiveServer, person: HttpUser) -> None:
    server.sql("UPDATE users SET is_admin = 1 WHERE id = ?", (person.id,))


def captions_state(admin: HttpUser) -> dict:
    """/admin/captions.json: {"available": bool, "error": str | None, "streams": [...]}."""
    status, body = admin.request("GET", "/admin/captions.json", htmx=False)
    return json.loads(body) if status == 200 else {}


def listening_count(html: str) -> int | None:
    """The count the Listeners heading shows ("N listening"), None when absent."""
    section = parse(html).by_id("listeners")
    count = section.find("span", class_="count") if section else None
    return int(count.text) if count else None


def section_usernames(html: str, section_id: str) -> list[str]:
    """The usernames shown in a section of a room page or fragment."""
    section = parse(html).by_id(section_id)
    return [n.text for n in section.find_all(class_="username")] if section else []
