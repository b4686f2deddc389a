"""The room's sockets in Chromium (issue 13 items 2, 3 and 8): logging out while speaking leaves
the Space; leaving closes the page's live socket and joining opens it again; a socket past the
cap per account is refused with a message, and no script dials again in a loop."""

import pytest
from playwright.sync_api import expect

from testkit.audio import SHARED_AUDIO
from testkit.browser import chromium, chromiums, needs_chromium, person, start_space

pytestmark = [pytest.mark.browser, needs_chromium]

GONE_WITHIN = 10_000  # ms, generous: the host's page shows them gone (in ms; speed: bench/)


def item(page, list_name: str, username: str):
    return (
        page.get_by_role("list", name=list_name, exact=True)
        .get_by_role("listitem")
        .filter(has_text=username)
    )


def watch_sockets(page) -> list[str]:
    """The URLs of the websockets the page opens, in order, as it opens them."""
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    return opened


def test_logging_out_while_speaking_leaves_the_space(live_server):
    url = live_server.url
    with chromiums(str(SHARED_AUDIO / "jfk.wav"), None) as (speaker_chrome, host_chrome):
        host = person(host_chrome, url, "hostess")
        start_space(host, "Open mic")
        expect(host.get_by_role("heading", level=1)).to_have_text("Open mic")
        speaker = person(speaker_chrome, url, "talker")
        speaker.goto(host.url)
        speaker.get_by_role("button", name="Join this Space").click()
        item(host, "Listeners", "talker").get_by_role("button", name="Make speaker").click()
        speaker.get_by_role("button", name="Turn on microphone").click()
        expect(speaker.get_by_role("button", name="Turn off microphone")).to_be_visible()
        expect(item(host, "Speakers", "talker")).to_contain_text("mic on")
        # The server hears them: the levels it measures light their item on the host's page.
        expect(host.locator("#stage li.person.speaking")).to_have_count(1, timeout=10_000)

        speaker.get_by_role("button", name="Log out").click()

        expect(speaker.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
        expect(item(host, "Speakers", "talker")).to_have_count(0, timeout=GONE_WITHIN)
        expect(item(host, "Listeners", "talker")).to_have_count(0)
        expect(host.locator("#stage li.person.speaking")).to_have_count(0)
        # The signed-out page: no player, no microphone control, and it says what happened.
        expect(speaker.get_by_role("region", name="Now playing")).to_be_hidden()
        expect(speaker.get_by_role("button", name="Turn off microphone")).to_have_count(0)
        expect(speaker.get_by_role("alert")).to_contain_text(
            "You logged out, so you left the Space \N{LEFT DOUBLE QUOTATION MARK}Open mic"
        )
        audio = speaker.evaluate(
            "({ws: !!window.SpacesAudio.ws, mic: !!window.SpacesAudio.micStream})"
        )
        assert audio == {"ws": False, "mic": False}


def test_leaving_closes_the_live_socket_and_joining_opens_it_again(live_server):
    url = live_server.url
    with chromium() as chrome:
        host = person(chrome, url, "hostess")
        start_space(host, "Comings and goings")
        guest = person(chrome, url, "guest")
        opened = watch_sockets(guest)
        guest.goto(host.url)
        expect(guest.get_by_role("button", name="Join this Space")).to_be_visible()
        assert not [u for u in opened if u.endswith("/live")], "a visitor holds no live socket"

        with guest.expect_websocket(lambda ws: ws.url.endswith("/live")):
            guest.get_by_role("button", name="Join this Space").click()
        expect(item(host, "Listeners", "guest")).to_be_visible()

        guest.get_by_role("button", name="Leave").click()
        expect(guest.locator("#status")).to_have_text("You left this Space.")
        expect(guest.get_by_role("button", name="Join this Space")).to_be_visible()
        expect(item(host, "Listeners", "guest")).to_have_count(0, timeout=GONE_WITHIN)
        assert not guest.evaluate(
            "document.getElementById('room-socket').hasAttribute('ws-connect')"
        )

        with guest.expect_websocket(lambda ws: ws.url.endswith("/live")):
            guest.get_by_role("button", name="Join this Space").click()
        expect(item(host, "Listeners", "guest")).to_be_visible()
        # Live again: the host's change reaches the guest's page without a reload.
        host.get_by_role("button", name="Edit").click()
        dialog = host.get_by_role("dialog", name="Edit your Space")
        dialog.get_by_label("Title").fill("Back again")
        dialog.get_by_role("button", name="Save").click()
        expect(guest.get_by_role("heading", level=1)).to_have_text("Back again")
        assert len([u for u in opened if u.endswith("/live")]) == 2


def test_a_socket_past_the_cap_is_refused_with_a_message_and_not_dialled_again(start_server):
    server = start_server(SOCKETS_PER_ACCOUNT="1")
    url = server.url
    with chromium() as chrome:
        host = person(chrome, url, "hostess")
        start_space(host, "Crowded")
        first = person(chrome, url, "twotabs")
        first.goto(host.url)
        first.get_by_role("button", name="Join this Space").click()
        expect(first.get_by_role("button", name="Leave")).to_be_visible()

        second = first.context.new_page()  # the same person's second tab: one socket too many
        opened = watch_sockets(second)
        second.goto(host.url)
        expect(second.locator("#status")).to_have_text(
            "Too many connections to this Space are open: close another tab, then reload."
        )
        expect(second.locator("#audio-status")).to_contain_text("Too many connections")
        # No loop: the htmx extension would dial again within 1 s (full jitter on 1 s) and the
        # audio script within 0.25 s; 3 s is enough to see a second attempt of each.
        second.wait_for_timeout(3_000)
        # The audio socket's query names its wire format (v2 Opus where WebCodecs has it).
        assert sorted(u.rsplit("/", 1)[1].split("?")[0] for u in opened) == ["audio", "live"], (
            opened
        )
        # The first tab is untouched: still live.
        host.get_by_role("button", name="Edit").click()
        dialog = host.get_by_role("dialog", name="Edit your Space")
        dialog.get_by_label("Title").fill("Still crowded")
        dialog.get_by_role("button", name="Save").click()
        expect(first.get_by_role("heading", level=1)).to_have_text("Still crowded")
