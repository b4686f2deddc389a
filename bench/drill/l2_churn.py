"""L2: 200 people join and leave a Space within 10 s while speakers talk: presence at the end
(the database, the room page's Listeners count and the last pushed fragment), HTTP errors, HTTP
p95 under 3 s, and how long the burst took to absorb (churn_s)."""

import random
import threading
import time
from pathlib import Path

from fanout.room import speaking_space

from testkit import procfs
from testkit.http_user import HttpUser
from testkit.server import LiveServer
from testkit.waiting import wait_until

from .kit import Figures, listening_count, percentile, present, section_usernames
from .network import Drain

# What each one does: stays; leaves with the Leave button; closes the tab (sockets drop); or loses
# the connection and comes back within a second (stays).
STAYING = ("stay", "reconnect")


def plans(n: int, span: float, rng: random.Random) -> list[tuple[str, float, float]]:
    """(what, arrival, time in the room) for each of n people, arrivals within 3/4 of `span`."""
    what = ["stay"] * (n // 4) + ["button"] * (3 * n // 8) + ["tab"] * (n // 4)
    what += ["reconnect"] * (n - len(what))
    rng.shuffle(what)
    arrive = [rng.uniform(0, span / 4 * 3) for _ in range(n)]
    stay_for = [rng.uniform(0.3, 2.0) for _ in range(n)]
    return list(zip(what, arrive, stay_for, strict=True))


class Churn:
    """People coming and going on their own threads; what they met on the way."""

    def __init__(self, room: str, drain: Drain) -> None:
        self.room, self.drain = room, drain
        self.errors: list[str] = []
        self.counts = {"joins": 0, "leaves": 0, "reconnects": 0, "requests": 0}
        self.latencies: list[float] = []  # HTTP requests
        self.handshakes: list[float] = []  # both sockets of one page
        self.lock = threading.Lock()

    def run(self, crowd: list[HttpUser], plan: list, start: float, within: float) -> None:
        lives = [
            threading.Thread(target=self.life, args=(p, *what, start), daemon=True)
            for p, what in zip(crowd, plan, strict=True)
        ]
        for thread in lives:
            thread.start()
        for thread in lives:
            thread.join(max(0.1, start + within - time.monotonic()))

    def life(self, person: HttpUser, what: str, arrive: float, stay: float, start: float) -> None:
        time.sleep(max(0.0, start + arrive - time.monotonic()))
        try:
            self.request(person, "GET", self.room)
            self.request(person, "POST", self.room + "/join")
            socks = self.sockets(person)
            self.note("joins")
            time.sleep(stay)
            if what != "stay":  # the page goes (leaving closes its sockets on the server too)
                for s in socks:
                    self.drain.close(s)
            if what == "button":
                self.request(person, "POST", self.room + "/leave")
            if what in ("button", "tab"):
                self.note("leaves")
            if what == "reconnect":
                time.sleep(0.3)
                self.sockets(person)
                self.note("reconnects")
        except Exception as exc:  # noqa: BLE001 (every failure is a finding)
            with self.lock:
                self.errors.append(f"{person.username} ({what}): {exc}"[:200])

    def note(self, count: str) -> None:
        with self.lock:
            self.counts[count] += 1

    def request(self, person: HttpUser, method: str, path: str) -> None:
        t = time.monotonic()
        status, body = person.request(method, path, htmx=method == "POST")
        with self.lock:
            self.counts["requests"] += 1
            self.latencies.append(time.monotonic() - t)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {body[:100]}")

    def sockets(self, person: HttpUser) -> list:
        """The room page's two sockets, read (and discarded) by the drain."""
        t = time.monotonic()
        socks = [person.websocket(self.room + path).sock for path in ("/live", "/audio")]
        with self.lock:
            self.handshakes.append(time.monotonic() - t)
        for sock, path in zip(socks, ("live", "audio"), strict=True):
            self.drain.add(sock, f"{person.username} {path}")
        return socks


def run(args, tmp: Path, fig: Figures) -> None:
    n = 40 if args.tiny else 200
    span = 4.0 if args.tiny else 10.0
    # PRESENCE_GRACE_SECONDS (10 s is the product's default). Tiny: short, so that the tabs
    # closed are let go soon, but long enough for the speakers to be seated and connected on a
    # busy machine (at 2 s they were sometimes let go first, and the drill stalled).
    grace = 5.0 if args.tiny else 10.0
    server = LiveServer(tmp / "l2", PRESENCE_GRACE_SECONDS=str(grace))
    crowd_names = [f"l2person{i:03d}" for i in range(n)]
    host, *stage = server.people(["l2host", "l2voice1", "l2voice2", *crowd_names])
    stage, crowd = stage[:2], stage[2:]
    plan = plans(n, span, random.Random(8))
    try:
        server.start()
        with speaking_space(server.port, host, stage, "L2 churn") as (space, _voices):
            room = f"/spaces/{space}"
            watcher = host.listen(room + "/live")
            drain = Drain()
            drain.start()
            try:
                churn = Churn(room, drain)
                start = time.monotonic() + 0.5
                cpu0 = procfs.cpu_seconds(server.pid)
                churn.run(crowd, plan, start, span + 50)
                fig["churn_s"] = time.monotonic() - start
                fig["server_cpu_s"] = procfs.cpu_seconds(server.pid) - cpu0
                churn_figures(fig, churn)
                staying = [p for p, (what, *_) in zip(crowd, plan, strict=True) if what in STAYING]
                expected = {host.id: "host", **{p.id: "speaker" for p in stage}}
                expected.update({p.id: "listener" for p in staying})
                # Tab-closers leave when the grace period runs out (the reaper runs every second).
                settled = wait_until(lambda: present(server, space) == expected, grace + 10, 0.5)
                fig["settle_s"] = time.monotonic() - start - fig["churn_s"]
                presence(fig, server, space, host, watcher, expected, staying, bool(settled))
                fig["server_closed_sockets"] = len(drain.server_closed)
                fig.check(not drain.server_closed, f"server closed {drain.server_closed[:3]}")
            finally:
                drain.stop()
                watcher.stop()
    finally:
        server.stop()


def churn_figures(fig: Figures, churn: Churn) -> None:
    fig.update(churn.counts)
    fig["http_errors"] = len(churn.errors)
    fig["http_p50_ms"] = percentile(churn.latencies, 50) * 1000
    fig["http_p95_ms"] = percentile(churn.latencies, 95) * 1000
    fig["sockets_p95_ms"] = percentile(churn.handshakes, 95) * 1000
    fig.check(not churn.errors, "; ".join(churn.errors[:3]))
    # The bar is presence and errors; the time the burst took to absorb is a figure
    # (churn_s: scheduled over `span`, longer when requests queue). p95 bounds the queueing:
    # before the fixes of 2026-11-25 it reached 12 s.
    fig.target(fig["http_p95_ms"] < 3000, "HTTP p95 over 3 s: requests queued")


def presence(fig, server, space, host, watcher, expected, staying, settled: bool) -> None:
    """The database, the room page and the last pushed Listeners fragment all agree."""
    now_present = present(server, space)
    fig["present"] = len(now_present)
    fig["expected"] = len(expected)
    html = host.get(f"/spaces/{space}")
    count = listening_count(html)
    shown = set(section_usernames(html, "listeners"))
    fig["page_listeners"] = count

    def last_pushed() -> int | None:
        pushed = [t for _, t in watcher.texts if 'id="listeners"' in t]
        return listening_count(pushed[-1]) if pushed else None

    # The hub's last push follows the database within a flush; a wrong count waits it out.
    wait_until(lambda: last_pushed() == len(staying), 10)
    fig["pushed_listeners"] = last_pushed()
    presence_ok = (
        settled
        and count == len(staying)
        and shown <= {p.username for p in staying}
        and fig["pushed_listeners"] == len(staying)
    )
    fig["presence_ok"] = presence_ok
    fig.check(
        presence_ok,
        f"present {len(now_present)} != expected {len(expected)}"
        f" or page count {count} / pushed {fig['pushed_listeners']} != {len(staying)}",
    )
