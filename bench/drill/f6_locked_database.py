"""F6: the database locked by another process (BEGIN EXCLUSIVE) for 2 s, then past the busy
timeout: requests wait or get a clean 503, nothing acknowledged is lost, audio and presence go
on."""

import contextlib
import threading
import time
from pathlib import Path

from testkit.audio import speech
from testkit.http_user import HttpUser
from testkit.server import LiveServer
from testkit.sqlite_lock import Locker
from testkit.waiting import wait_until

from .kit import Background, Figures, present


class Writer(Background):
    """A person posting, asking to speak, cancelling and reading the room, again and again:
    (start, end, what, status, post body or answer) of every request."""

    KINDS = ("post", "request", "cancel-request", "read")

    def __init__(self, person: HttpUser, room: str, w: int, results: list, lock) -> None:
        super().__init__()
        self.person, self.room, self.w = person, room, w
        self.results, self.lock = results, lock

    def loop(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            body = f"f6 post {self.w}-{i}"
            what = self.KINDS[i % 4]
            t = time.monotonic()
            if what == "post":
                status, text = self.person.post("/posts", {"body": body})
            elif what == "read":
                status, text = self.person.request("GET", self.room, htmx=False)
            else:
                status, text = self.person.post(f"{self.room}/{what}")
            with self.lock:
                self.results.append(
                    (t, time.monotonic(), what, status, body if what == "post" else text[:120])
                )
            self.stop.wait(0.05)


def run(args, tmp: Path, fig: Figures) -> None:
    server = LiveServer(tmp / "f6", PRESENCE_GRACE_SECONDS="4")
    names = ["f6host", "f6ear", "f6leaver", "f6newhost", *[f"f6writer{i}" for i in range(4)]]
    host, listener, leaver, newhost, *writers = server.people(names)
    parts = []
    results: list[tuple[float, float, str, int, str]] = []
    try:
        server.start()
        space = host.open_space("F6 locked database")
        room = f"/spaces/{space}"
        host.act(room + "/mic", {"on": "1"})
        for person in [listener, leaver, *writers]:
            person.join(space)
        ear = listener.listen(room + "/audio", keep_text=False)
        leaver_page = leaver.listen(room + "/live")
        parts = [ear, leaver_page, host.speak(room + "/audio", speech(1))]
        parts += [p.listen(room + "/live", keep_text=False) for p in [listener, *writers]]
        lock = threading.Lock()
        with contextlib.ExitStack() as writing:
            for w, person in enumerate(writers):
                writing.enter_context(Writer(person, room, w, results, lock))
            time.sleep(3)
            # Phase 1: 2 s, within the busy timeout (5 s): everything waits and then succeeds.
            l1, r1 = Locker(server.db_path, 2.0).wait()
            time.sleep(3)
            l2, r2, closed_page, second = long_lock(server, newhost, leaver_page, parts)
            time.sleep(4)
        figures(fig, results, (l1, r1), (l2, r2), server)
        fig["audio_max_gap_ms"] = 1000 * ear.max_gap(l1 - 1, r2 + 1)
        fig["audio_fps"] = ear.rate(l1 - 1, r2 + 1)
        gone = wait_until(lambda: leaver.id not in present(server, space), 10, 0.5)
        fig["leaver_reaped_after_lock"] = bool(gone)
        fig["leaver_left_page_in_lock_s"] = closed_page - l2
        fig["second_space_recording"] = bool(
            server.sql("SELECT COUNT(*) FROM recordings WHERE space_id = ?", (second,))[0][0]
        )
        fig["integrity"] = server.sql("PRAGMA integrity_check")[0][0]
        checks(fig, bool(gone))
    finally:
        for part in parts:
            part.stop()
        server.stop()


def long_lock(server: LiveServer, newhost: HttpUser, leaver_page, parts: list):
    """Phase 2: 12 s, past the busy timeout. Meanwhile the presence reaper must remove someone
    (their page closes as the lock begins: the reaper meets the lock the grace period later) and
    a new Space opens its first audio socket, which starts its recording (a row to write).
    Answers (locked at, released at, when the page closed, the new Space)."""
    second = newhost.open_space("F6 second Space")
    newhost.act(f"/spaces/{second}/mic", {"on": "1"})

    def second_space() -> None:
        time.sleep(1.0)
        parts.append(newhost.speak(f"/spaces/{second}/audio", speech(2)))

    locker = Locker(server.db_path, 12.0)
    leaver_page.stop()
    closed_page = time.monotonic()
    starter = threading.Thread(target=second_space, daemon=True)
    starter.start()
    locked, released = locker.wait()
    starter.join(15)
    return locked, released, closed_page, second


def figures(fig: Figures, results: list, one: tuple, two: tuple, server: LiveServer) -> None:
    """Waits, clean refusals and lost writes, from every request's (start, end, what, status,
    body)."""

    def during(lock: tuple[float, float]) -> list:
        return [r for r in results if r[1] >= lock[0] and r[0] <= lock[1]]

    statuses = [r[3] for r in results]
    fig["requests"] = len(results)
    fig["lock1_s"] = one[1] - one[0]
    fig["lock1_requests"] = len(during(one))
    fig["lock1_waited_max_s"] = max((r[1] - r[0] for r in during(one)), default=0.0)
    fig["lock1_failed"] = sum(1 for r in during(one) if r[3] != 200)
    fig["lock2_s"] = two[1] - two[0]
    fig["lock2_requests"] = len(during(two))
    fig["lock2_503"] = sum(1 for r in during(two) if r[3] == 503)
    fig["http_500"] = statuses.count(500)
    # 403/409: a domain refusal with its sentence (asking twice after a 503 left a request
    # standing, say); 503: "The server is busy. Nothing was changed". Others are not clean.
    fig["refused_4xx"] = sum(1 for s in statuses if s in (403, 409))
    fig["other_errors"] = sum(1 for s in statuses if s not in (200, 403, 409, 503, 500))
    acknowledged = {r[4] for r in results if r[2] == "post" and r[3] == 200}
    refused = {r[4] for r in results if r[2] == "post" and r[3] != 200}
    stored = {row[0] for row in server.sql("SELECT body FROM posts")}
    fig["posts_acknowledged"] = len(acknowledged)
    fig["posts_lost"] = len(acknowledged - stored)
    fig["posts_refused_but_stored"] = len(refused & stored)


def checks(fig: Figures, reaped: bool) -> None:
    fig.check(fig["lock1_failed"] == 0, "requests failed during the 2 s lock")
    fig.check(fig["lock1_waited_max_s"] >= 1.0, "nothing waited for the 2 s lock")
    fig.check(fig["http_500"] == 0 and fig["other_errors"] == 0, "500s or unclear errors")
    fig.check(fig["posts_lost"] == 0, "acknowledged posts lost")
    fig.check(fig["posts_refused_but_stored"] == 0, "a refused post was stored")
    fig.check(fig["audio_max_gap_ms"] < 200, "the audio stalled while the database was locked")
    fig.check(reaped, "the presence reaper lost someone during the long lock")
    fig.check(fig["second_space_recording"], "a Space started during the lock has no recording row")
    fig.check(fig["integrity"] == "ok", "database integrity")
