"""The docked player: moving around the site keeps the Space playing and the person in it."""

import pytest
from playwright.sync_api import expect

from testkit.browser import chromium, needs_chromium, person
from testkit.http_user import HttpUser
from testkit.waiting import stays, wait_until

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def quick_grace_server(start_server):
    return start_server(PRESENCE_GRACE_SECONDS="2")


def test_leaving_the_room_page_docks_the_player_and_keeps_the_listener_in(quick_grace_server):
    url = quick_grace_server.url
    host = HttpUser(url, "dockhost")
    host.post("/spaces/new", {"title": "Docked show", "speaker_policy": "everyone"}, htmx=False)
    with chromium() as browser:
        page = person(browser, url, "wanderer")
        page.goto(url + "/spaces/1")
        page.get_by_role("button", name="Join this Space").click()
        expect(page.get_by_role("button", name="Leave")).to_be_visible()
        player = page.get_by_role("region", name="Now playing")
        expect(player).to_be_hidden()

        page.get_by_role("navigation").get_by_role("link", name="Profile").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("wanderer")
        expect(player).to_be_visible()
        expect(player).to_contain_text("Docked show")
        expect(page.get_by_role("region", name="Captions")).to_have_count(0)
        stays(  # twice the grace period (2 s) away from the room page: still in the Space
            lambda: "wanderer" in host.get("/spaces/1").split('id="listeners"')[1],
            4.0,
            0.5,
            what="the docked listener among the Space's listeners",
        )
        assert page.evaluate("window.SpacesAudio.ws && window.SpacesAudio.ws.readyState") == 1

        player.get_by_role("link", name="Back to the Space").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Docked show")
        expect(player).to_be_hidden()

        page.get_by_role("navigation").get_by_role("link", name="Home").click()
        page.get_by_role("region", name="Now playing").get_by_role("button", name="Leave").click()
        expect(player).to_be_hidden()
        wait_until(
            lambda: "wanderer" not in host.get("/spaces/1").split('id="listeners"')[1],
            10,
            what="the listener gone from the Space after Leave",
        )
