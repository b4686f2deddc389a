"""Co-hosts on a live server (issue 17): when the host's connection drops, a co-host keeps running
the room through the grace period and the host-away time, then the Space ends as before."""

import time

import pytest
from test_live import page

pytestmark = pytest.mark.live


def test_a_cohost_runs_the_room_while_the_host_is_away_until_it_ends(start_server):
    server = start_server(PRESENCE_GRACE_SECONDS="1", HOST_AWAY_MINUTES="0.05")
    host, co, ear = server.sign_up("away_host", "stand_in", "asker")
    space_id = host.open_space()
    room = f"/spaces/{space_id}"
    co.join(space_id)
    ear.join(space_id)
    host.act(f"{room}/people/{co.id}/make-cohost")
    with page(server, co, space_id) as cos:
        cos.full_state()
        with page(server, ear, space_id) as ears:
            ears.full_state()
            with page(server, host, space_id) as hosts:
                hosts.full_state()
            left = time.monotonic()  # the host's only page closed: the connection dropped
            cos.until(lambda d: "The host is away" in d.text, within=5, what="the host away")
            ear.act(f"{room}/request")
            cos.until(
                lambda d: (
                    d.by_id("requests") is not None and "Approve" in d.by_id("requests").buttons()
                ),
                what="the request, with Approve, on the co-host's page",
            )
            co.act(f"{room}/people/{ear.id}/approve")
            on_stage = cos.until(
                lambda d: (
                    d.by_id("stage") is not None and ear.username in d.usernames("speakers-heading")
                ),
                what="the asker on stage",
            )
            assert on_stage.usernames("host-heading") == [co.username]  # the host is away
            assert "3 of 11 places on stage taken" in on_stage.by_id("stage").text
            ears.until(lambda d: "Stop speaking" in d.buttons(), what="the asker's controls")
            # The co-host does not keep the host's Space live without them (cohosts.py says why).
            ended = cos.until(lambda d: "the host left" in d.text, within=10, what="the end")
            assert time.monotonic() - left >= 3.0, "ended before HOST_AWAY_MINUTES"
            assert "This Space has ended: the host left." in ended.text
