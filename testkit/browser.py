"""Chromium through Playwright: Debian's /usr/bin/chromium, never a downloaded browser."""

import atexit
import contextlib
import os
import shutil

import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from .passwords import PASSWORD

# Two cores shared by the server, the caption model and several Chromiums: allow for slow moments
# (a passing expectation returns as soon as it holds; only a failing one waits this long).
expect.set_options(timeout=15_000)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BASE_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
]

needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (see README)"
)


def _flags(microphone_wav: str | None) -> list[str]:
    flags = list(BASE_FLAGS)
    if microphone_wav:
        flags += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone_wav}",
        ]
    return flags


# One Playwright driver and one Chromium without a microphone per test process, shared by its
# tests (each person has a context of their own, closed when the test ends): a launch cost
# about 1 s of CPU and the driver 0.5 s, some 60 times in a `make test` whose workers already
# keep both cores busy. A microphone is a launch flag, so a browser with one is the test's own.
_driver: Playwright | None = None
_plain: Browser | None = None


def _playwright() -> Playwright:
    global _driver
    if _driver is None:
        _driver = sync_playwright().start()
        atexit.register(_stop)
    return _driver


def _stop() -> None:
    with contextlib.suppress(Exception):
        if _plain is not None:
            _plain.close()
        _driver.stop()


def _shared_plain(p: Playwright) -> Browser:
    global _plain
    if _plain is None or not _plain.is_connected():
        _plain = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=_flags(None))
    return _plain


@contextlib.contextmanager
def chromiums(*microphones: str | None, headless: bool = True):
    """One Chromium per entry; an entry that names a WAV file makes it the microphone (looped),
    None gives a browser with no microphone (this process's shared one, when headless). The
    contexts a test opened in the shared browser are closed when it ends."""
    p = _playwright()
    own, browsers = [], []
    shared = _shared_plain(p) if None in microphones and headless else None
    before = set(shared.contexts) if shared is not None else set()
    try:
        for mic in microphones:
            if mic is None and shared is not None:
                browsers.append(shared)
                continue
            own.append(
                p.chromium.launch(executable_path=CHROMIUM, headless=headless, args=_flags(mic))
            )
            browsers.append(own[-1])
        yield browsers
    finally:
        for browser in own:
            browser.close()
        if shared is not None:
            for context in [c for c in shared.contexts if c not in before]:
                with contextlib.suppress(Exception):
                    context.close()


@contextlib.contextmanager
def chromium(microphone_wav: str | None = None, headless: bool = True):
    """A Chromium process; with `microphone_wav`, that file is the microphone (looped)."""
    with chromiums(microphone_wav, headless=headless) as (browser,):
        yield browser


def sign_up(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(base_url + "/")


def person(browser, base_url: str, username: str, init_script: str | None = None):
    """Someone with a browser context of their own (cookies apart), signed up: their page.
    `init_script` runs in every page they open before the page's own scripts."""
    context = browser.new_context()
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    sign_up(page, base_url, username)
    return page


def people(browser, base_url: str, *usernames: str) -> list:
    """One person per username, each signed up in a context of their own: their pages."""
    return [person(browser, base_url, username) for username in usernames]


def start_space(page, title: str) -> None:
    """From the home page: Create a Space, its title, Start your Space."""
    page.get_by_role("link", name="Create a Space").click()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Start your Space").click()


def in_list(page, name: str):
    """A room's list by its accessible name (Speakers, Listeners, Requests, Removed)."""
    return page.get_by_role("list", name=name, exact=True)


def join(page, room_url: str) -> None:
    """Opens the room and presses Join this Space; returns once the person is in."""
    page.goto(room_url)
    page.get_by_role("button", name="Join this Space").click()
    expect(page.get_by_role("button", name="Leave")).to_be_visible()


def press_until(button, arrived) -> None:
    """Presses `button` until `arrived(timeout)` (an `expect`) holds. A push that re-renders the
    controls at the moment of the click (the page's own socket arriving just after a join or a new
    Space) swallows the click, so it is pressed again then; a click that landed and was refused
    still fails at the end."""
    for _ in range(3):
        button.click()
        try:
            arrived(3_000)
            return
        except AssertionError:
            continue
    arrived(None)


def answer_captions(page, answer: str = "Not now") -> None:
    """Answers the Captions question (again if a push swallowed the click: press_until)."""
    question = page.get_by_role("dialog", name="Captions")
    button = question.get_by_role("button", name=answer)
    press_until(button, lambda timeout: expect(question).to_have_count(0, timeout=timeout))


def open_space(browser, base_url: str, host_name: str, title: str, *listener_names: str):
    """A host who started a Space called `title` and said Not now to captions, and one person
    per listener name who joined it: (the host's page, the room's address, the listeners' pages)."""
    host = person(browser, base_url, host_name)
    start_space(host, title)
    expect(host.get_by_role("heading", level=1)).to_have_text(title)
    room = host.url
    answer_captions(host)
    listeners = people(browser, base_url, *listener_names)
    for listener in listeners:
        join(listener, room)
    return host, room, listeners
