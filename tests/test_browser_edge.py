"""In Chromium, with edge nodes: a listener's page opens its audio socket on the edge the core
names, in the format it chose as on the core (Opus where WebCodecs has it), and hears the room
from there; the speaker's stays on the core."""

import pytest
from playwright.sync_api import expect

from testkit.audio import SHARED_AUDIO
from testkit.browser import (
    chromium,
    chromiums,
    in_list,
    needs_chromium,
    open_space,
    person,
    start_space,
)
from testkit.edge import LiveEdge
from testkit.server import LiveServer, free_port

pytestmark = [pytest.mark.browser, needs_chromium]

NO_WEBCODECS = "delete window.AudioEncoder; delete window.AudioDecoder;"  # as an older browser


@pytest.mark.parametrize("codec", ["opus", "pcm"])
def test_a_listeners_page_hears_the_room_through_an_edge(tmp_path, redis_server, codec):
    port = free_port()
    edge_url = f"ws://127.0.0.1:{port}"
    core = LiveServer(tmp_path / "core", REDIS_URL=redis_server.url, EDGE_URLS=edge_url).start()
    edge = LiveEdge(tmp_path / "edge", redis_server.url, core._secret_key(), port).start()
    sockets: dict[str, list[str]] = {"host": [], "listener": []}
    try:
        with chromiums(str(SHARED_AUDIO / "jfk.wav"), None) as (speaker_chrome, listener_chrome):
            host = person(speaker_chrome, core.url, "orator")
            host.on("websocket", lambda ws: sockets["host"].append(ws.url))
            start_space(host, "Through an edge")
            expect(host.get_by_role("heading", level=1)).to_have_text("Through an edge")
            hide = NO_WEBCODECS if codec == "pcm" else None
            listener = person(listener_chrome, core.url, "citizen", init_script=hide)
            listener.on("websocket", lambda ws: sockets["listener"].append(ws.url))
            listener.goto(host.url)
            listener.get_by_role("button", name="Join this Space").click()
            expect(listener.get_by_role("button", name="Leave")).to_be_visible()
            host.get_by_role("button", name="Turn on microphone").click()
            expect(host.get_by_role("button", name="Turn off microphone")).to_be_visible()
            # The levels ride with the mix: seen on the listener's page, they came via the edge.
            expect(listener.locator("#stage li.person.speaking")).to_have_count(1, timeout=15_000)
            assert listener.evaluate("window.SpacesAudio.codec") == codec
    finally:
        edge.stop()
        core.stop()
    audio = [url for url in sockets["listener"] if "/audio" in url]
    assert audio and all(url.startswith(edge_url + "/spaces/") for url in audio), audio
    assert all("grant=" in url for url in audio)
    assert all(("&v=2&codec=opus" in url) == (codec == "opus") for url in audio), (codec, audio)
    assert not any(url.startswith(edge_url) for url in sockets["host"]), sockets["host"]


def test_a_listeners_page_on_an_edge_updates_live(tmp_path, redis_server):
    """The page's live socket goes to the edge the core names: the host's rename, a new
    speaker and then the listener's removal show there as on the core."""
    port = free_port()
    edge_url = f"ws://127.0.0.1:{port}"
    core = LiveServer(tmp_path / "core", REDIS_URL=redis_server.url, EDGE_URLS=edge_url).start()
    edge = LiveEdge(tmp_path / "edge", redis_server.url, core._secret_key(), port).start()
    sockets: list[str] = []
    try:
        with chromium() as browser:
            host, _room, (listener, _other) = open_space(
                browser, core.url, "anchor", "Before", "citizen", "neighbour"
            )
            listener.on("websocket", lambda ws: sockets.append(ws.url))
            listener.reload()
            expect(listener.get_by_role("button", name="Leave")).to_be_visible()
            host.get_by_role("button", name="Edit").click()
            host.get_by_label("Title").fill("After")
            host.get_by_role("button", name="Save").click()
            expect(listener.get_by_role("heading", level=1)).to_have_text("After")
            listed = in_list(host, "Listeners").get_by_role("listitem")
            listed.filter(has_text="neighbour").get_by_role("button", name="Make speaker").click()
            on_stage = in_list(listener, "Speakers")
            expect(on_stage).to_contain_text("neighbour")
            listed.filter(has_text="citizen").get_by_role("button", name="Remove").click()
            question = host.get_by_role("dialog", name="Remove citizen from this Space?")
            question.get_by_role("button", name="Remove").click()
            removed = listener.get_by_role("heading", name="You were removed from this Space")
            expect(removed).to_be_visible()
    finally:
        edge.stop()
        core.stop()
    live = [url for url in sockets if "/live" in url]
    assert live and all(url.startswith(edge_url + "/spaces/") for url in live), sockets
