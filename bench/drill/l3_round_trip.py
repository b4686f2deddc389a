"""L3: the htmx round trip (request to speak / cancel, an HX-Request POST) with 500 listeners
connected to the live and audio sockets: p50/p95 of the response and of the push to the host's
page."""

import random
import time
from pathlib import Path

from fanout.room import speaking_space

from testkit.http_user import HttpUser
from testkit.listen import Ear
from testkit.server import LiveServer

from .kit import Figures, ListenerPool, connect_crowd, percentile, section_usernames


def run(args, tmp: Path, fig: Figures) -> None:
    n = 50 if args.tiny else 100 if args.quick else 500
    actions = 20 if args.tiny else 40 if args.quick else 200
    server = LiveServer(tmp / "l3")
    crowd_names = [f"l3listener{i:04d}" for i in range(n)]
    everyone = server.people(["l3host", "l3voice1", "l3voice2", "l3actor", *crowd_names])
    host, stage, actor, crowd = everyone[0], everyone[1:3], everyone[3], everyone[4:]
    ears: list[Ear] = []
    try:
        server.start()
        with (
            ListenerPool(max(2, -(-2 * n // 300))) as pool,
            speaking_space(server.port, host, stage, "L3 round trips") as (space, _voices),
        ):
            room = f"/spaces/{space}"
            replies = connect_crowd(pool, server.port, room, crowd, ("/live", "/audio"))
            fig["listeners"] = n
            fig["sockets"] = sum(r[1] for r in replies)
            fig.check(fig["sockets"] == 2 * n, f"only {fig['sockets']} of {2 * n} sockets opened")
            actor.join(space)
            host_page = host.listen(room + "/live")
            ears = [host_page, actor.listen(room + "/live", keep_text=False)]
            ears.append(actor.listen(room + "/audio", keep_text=False))
            for ear in ears:
                ear.connected.wait(5)
            actor.get(room)
            time.sleep(3)
            pool.ask(("start",))
            trips, pushes, errors = round_trips(actor, room, host_page, actions)
            pool.ask(("stop",))
            figures(fig, actions, trips, pushes, errors, pool)
    finally:
        for ear in ears:
            ear.stop()
        server.stop()


def round_trips(actor: HttpUser, room: str, host_page: Ear, actions: int):
    """The actor asks to speak and cancels, at random moments; each time, the response time
    and how long until the host's page shows the change."""
    rng = random.Random(3)
    trips, pushes, errors = [], [], []
    for i in range(actions):
        time.sleep(rng.uniform(0.05, 0.15))
        asking = i % 2 == 0
        action = "request" if asking else "cancel-request"
        t = time.monotonic()
        status, body = actor.request("POST", f"{room}/{action}")
        trips.append(time.monotonic() - t)
        if status != 200:
            errors.append(f"{action}: {status} {body[:80]}")
            continue

        def shows(text: str, a=asking) -> bool:
            if 'id="requests"' not in text:
                return False
            return (actor.username in section_usernames(text, "requests")) == a

        # A deadline for a push that never comes; how soon it comes is push_p95_ms.
        at = host_page.wait_text(shows, t, 10.0)
        if at is None:
            errors.append(f"{action}: no push to the host's page within 10 s")
        else:
            pushes.append(at - t)
    return trips, pushes, errors


def figures(fig: Figures, actions: int, trips, pushes, errors, pool: ListenerPool) -> None:
    fig["actions"] = actions
    fig["http_p50_ms"] = percentile(trips, 50) * 1000
    fig["http_p95_ms"] = percentile(trips, 95) * 1000
    fig["push_p50_ms"] = percentile(pushes, 50) * 1000
    fig["push_p95_ms"] = percentile(pushes, 95) * 1000
    fig["errors"] = len(errors)
    fig["audio_fps_min"] = min(pool.rates(), default=0.0)
    fig["dropped"] = len(pool.closed())
    fig.check(not errors, "; ".join(errors[:3]))
    fig.target(fig["http_p95_ms"] < 1000 and fig["push_p95_ms"] < 1000, "p95 over 1 s")
    fig.check(fig["dropped"] == 0, f"{fig['dropped']} sockets closed: {pool.closed()[:3]}")
