"""L4: 40 speaker grants at once over HTTP from 40 threads: exactly 11 on stage."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testkit.http_user import HttpUser
from testkit.server import LiveServer

from .kit import Figures, join_many, section_usernames

HOPEFULS = 40


def run(args, tmp: Path, fig: Figures) -> None:
    rounds = 1 if args.quick else 3
    server = LiveServer(tmp / "l4")
    host, *crowd = server.people(["l4host", *[f"l4hopeful{i:02d}" for i in range(HOPEFULS)]])
    stages, statuses = [], []
    try:
        server.start()
        for r in range(1, rounds + 1):
            space = host.open_space(f"L4 round {r}")
            answers = grant_at_once(host, crowd, space)
            stage = server.sql(
                "SELECT COUNT(*) FROM participants WHERE space_id = ? AND present = 1"
                " AND role IN ('host', 'speaker')",
                (space,),
            )[0][0]
            on_page = len(section_usernames(host.get(f"/spaces/{space}"), "stage"))
            stages.append(stage)
            statuses += answers
            fig.check(stage == 11, f"round {r}: {stage} on stage")
            fig.check(on_page == 11, f"round {r}: the page shows {on_page} on stage")
            fig.check(answers.count(200) == 10, f"round {r}: {answers.count(200)} granted")
            host.act(f"/spaces/{space}/end")
        others = [s for s in statuses if s not in (200, 409)]
        fig["rounds"] = rounds
        fig["threads"] = HOPEFULS
        fig["on_stage"] = "/".join(map(str, stages))
        fig["granted"] = statuses.count(200)
        fig["refused_409"] = statuses.count(409)
        fig["other_statuses"] = len(others)
        fig.check(not others, f"statuses {sorted(set(others))}")
    finally:
        server.stop()


def grant_at_once(host: HttpUser, crowd: list[HttpUser], space: int) -> list[int]:
    """Everyone joins; half ask first and are approved, half are made speakers; the host's 40
    answers go out at the same moment from 40 threads. Answers the statuses."""
    room = f"/spaces/{space}"
    join_many(room, crowd)
    for person in crowd[: len(crowd) // 2]:
        person.act(room + "/request")
    host.get(room)
    hosts = [host.clone() for _ in crowd]
    barrier = threading.Barrier(len(crowd))

    def grant(i: int) -> int:
        action = "approve" if i < len(crowd) // 2 else "make-speaker"
        barrier.wait(10)
        return hosts[i].request("POST", f"{room}/people/{crowd[i].id}/{action}")[0]

    with ThreadPoolExecutor(len(crowd)) as ex:
        return list(ex.map(grant, range(len(crowd))))
