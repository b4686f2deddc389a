"""axe-core on every page in every role state (no serious or critical violations), and the core
loop with the keyboard alone."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from testkit.audio import SHARED_AUDIO
from testkit.browser import chromium, chromiums, needs_chromium, person, press_until
from testkit.http_user import HttpUser

pytestmark = [pytest.mark.browser, needs_chromium]
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def serious_violations(page) -> list[str]:
    page.evaluate(AXE)  # through the debugger: the CSP rightly refuses injected scripts
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_in_every_role_state_passes_axe(live_server):
    url = live_server.url
    problems: dict[str, list[str]] = {}
    with chromium() as browser:
        visitor = browser.new_context().new_page()
        for path in ("/", "/signup", "/login", "/nowhere"):
            visitor.goto(url + path)
            problems[f"visitor {path}"] = serious_violations(visitor)

        host = person(browser, url, "host_a11y")
        problems["home"] = serious_violations(host)
        host.goto(url + "/spaces/new")
        problems["create"] = serious_violations(host)
        host.get_by_label("Title").fill("Accessible room")
        host.get_by_role("button", name="Start your Space").click()
        expect(host.get_by_role("heading", level=1)).to_have_text("Accessible room")
        problems["room as host with consent dialog"] = serious_violations(host)
        host.get_by_role("button", name="Not now").click()

        guest = HttpUser(url, "guest_a11y")
        guest.post("/u/host_a11y/follow")
        guest.post("/messages/host_a11y", {"body": "hi"})
        listener = person(browser, url, "listener_a11y")
        listener.goto(host.url)
        problems["room before joining"] = serious_violations(listener)
        listener.get_by_role("button", name="Join this Space").click()
        cancel = listener.get_by_role("button", name="Cancel request")
        press_until(
            listener.get_by_role("button", name="Request to speak"),
            lambda timeout: expect(cancel).to_be_visible(timeout=timeout),
        )
        problems["room as requester"] = serious_violations(listener)
        # Reactions showing (issue 17): a raised hand on the item and in Requests, then a Clap.
        reactions = listener.get_by_role("group", name="Reactions")
        reactions.get_by_role("button", name="Raise hand").click()
        expect(host.get_by_role("list", name="Raised hands")).to_contain_text("listener_a11y")
        reactions.get_by_role("button", name="Clap").click()
        expect(host.get_by_role("img", name="Clap")).to_be_visible()
        problems["room as host with a reaction and a raised hand"] = serious_violations(host)
        problems["room as listener with a raised hand"] = serious_violations(listener)
        listener.get_by_role("button", name="View captions").click()
        expect(listener.get_by_role("log", name="Captions")).to_be_attached()
        problems["room with captions on"] = serious_violations(listener)
        host.get_by_role("button", name="Share").click()
        problems["share dialog"] = serious_violations(host)
        host.keyboard.press("Escape")
        problems["room as host with a request"] = serious_violations(host)

        for path in (
            "/messages",
            "/messages/guest_a11y",
            "/settings",
            "/u/guest_a11y",
            "/u/host_a11y/followers",
            "/reports/new?space=1",
            "/reports",
        ):
            host.goto(url + path)
            problems[f"host {path}"] = serious_violations(host)
        host.goto(url + "/")
        problems["home with live now"] = serious_violations(host)

    failing = {k: v for k, v in problems.items() if v}
    print(f"axe: {len(problems)} page states checked")
    assert not failing, failing


def test_core_loop_with_the_keyboard_alone(live_server):
    """Sign up, create, join, request, approve, microphone, captions, end: Tab and Enter only."""
    url = live_server.url

    def tab_to(page, role: str, name: str, limit: int = 80):
        target = page.get_by_role(role, name=name, exact=True)
        for _ in range(limit):
            page.keyboard.press("Tab")
            if target.evaluate("el => el === document.activeElement"):
                return
        raise AssertionError(f"could not reach {role} {name!r} with Tab")

    def type_into(page, label: str, text: str):
        tab_to(page, "textbox", label)
        page.keyboard.type(text)

    def sign_up_by_keyboard(page, username: str):
        page.goto(url + "/signup")
        type_into(page, "Username", username)
        page.keyboard.press("Tab")
        page.keyboard.type("correct horse")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Create a Space")).to_be_visible()

    with chromiums(str(SHARED_AUDIO / "sample01.wav"), None) as (host_chrome, guest_chrome):
        host = host_chrome.new_context().new_page()
        sign_up_by_keyboard(host, "keyhost")
        tab_to(host, "link", "Create a Space")
        host.keyboard.press("Enter")
        type_into(host, "Title", "Keyboard room")
        tab_to(host, "button", "Start your Space")
        host.keyboard.press("Enter")
        expect(host.get_by_role("heading", level=1)).to_have_text("Keyboard room")
        tab_to(host, "button", "Allow captions")
        host.keyboard.press("Enter")
        expect(host.get_by_role("dialog", name="Captions")).to_have_count(0)

        guest = guest_chrome.new_context().new_page()
        sign_up_by_keyboard(guest, "keyguest")
        guest.goto(host.url)
        tab_to(guest, "button", "Join this Space")
        guest.keyboard.press("Enter")
        tab_to(guest, "button", "Request to speak")
        guest.keyboard.press("Enter")
        expect(guest.get_by_role("button", name="Cancel request")).to_be_visible()

        tab_to(host, "button", "Approve")
        host.keyboard.press("Enter")
        expect(guest.get_by_role("status").filter(has_text="You are now a speaker")).to_be_visible()
        # The new speaker is asked about captions, focus on the question and kept there.
        expect(guest.get_by_role("button", name="Allow captions")).to_be_focused()
        guest.keyboard.press("Enter")
        expect(guest.get_by_role("dialog", name="Captions")).to_have_count(0)

        tab_to(host, "button", "Turn on microphone")
        host.keyboard.press("Enter")
        expect(host.get_by_role("button", name="Turn off microphone")).to_be_visible()

        tab_to(guest, "button", "View captions")
        guest.keyboard.press("Enter")
        expect(guest.get_by_role("button", name="View captions")).to_have_attribute(
            "aria-pressed", "true"
        )

        tab_to(host, "button", "End Space")
        host.keyboard.press("Enter")
        expect(host.get_by_role("dialog", name="End this Space?")).to_be_visible()
        tab_to(host, "button", "End")
        host.keyboard.press("Enter")
        expect(guest.get_by_role("main").get_by_text("This Space has ended.")).to_be_visible()
