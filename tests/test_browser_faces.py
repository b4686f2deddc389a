"""People shown by name and picture, and a pinned post (issue 17), walked in Chromium by the names
in UI.md: a picture uploaded in Settings shows in the room on another person's page; a bad upload
(a text file named .png, a 20 MB image) gets a clear error and changes nothing; a post the host
pins appears for a listener within a second, and goes when unpinned."""

import os

import pytest
from PIL import Image
from playwright.sync_api import expect
from test_accessibility import serious_violations

from testkit.browser import chromium, in_list, needs_chromium, open_space, sign_up

pytestmark = [pytest.mark.browser, needs_chromium]

TOO_LARGE = "That picture is too large: pictures can be at most 5 MB."
NOT_A_PICTURE = "That file is not a picture. Choose a PNG, JPEG, WebP or GIF image."


def photo(path, size=(900, 600)) -> str:
    """A noisy photo: a few hundred KB, so the upload is larger than every other form's limit."""
    width, height = size
    Image.frombytes("RGB", size, os.urandom(width * height * 3)).save(path, "JPEG", quality=90)
    assert os.path.getsize(path) > 256 * 1024
    return str(path)


def open_settings(page, base_url: str):
    """Settings in a second tab of the same person, so their room stays open in the first."""
    settings = page.context.new_page()
    settings.goto(base_url + "/settings")
    expect(settings.get_by_role("heading", level=1)).to_have_text("Settings")
    return settings


def pictures_in(locator):
    return locator.locator("img[src^='/pictures/']")


def test_a_picture_uploaded_in_settings_shows_in_the_room(server, tmp_path):
    with chromium() as chrome:
        host, _, (listener,) = open_space(chrome, server.url, "pic_host", "Faces", "pic_ear")
        host_item = in_list(listener, "Host").get_by_role("listitem").first
        expect(host_item).to_contain_text("pic_host")
        expect(pictures_in(host_item)).to_have_count(0)  # initials until there is a picture

        settings = open_settings(host, server.url)
        settings.get_by_label("Display name").fill("Pia Host")
        settings.get_by_label("Profile picture").set_input_files(photo(tmp_path / "me.jpg"))
        settings.get_by_role("button", name="Save").click()
        expect(settings.get_by_role("status")).to_have_text("Saved.")

        # The listener's page shows it at once, with the new name, and the image really loads.
        expect(host_item).to_contain_text("Pia Host @pic_host")
        expect(pictures_in(host_item)).to_have_count(1)
        picture = pictures_in(host_item).element_handle()
        # Waited for: a swapped-in image is still loading the moment it appears.
        listener.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture)
        assert picture.evaluate("img => img.naturalWidth") == 256
        expect(pictures_in(in_list(host, "Host"))).to_have_count(1)  # and the host's own page
        expect(listener.get_by_role("main")).to_contain_text("Hosted by Pia Host @pic_host")
        assert serious_violations(listener) == []
        assert serious_violations(settings) == []

        # Remove picture: back to initials on the listener's page too.
        settings.get_by_role("button", name="Remove picture").click()
        expect(settings.get_by_role("status")).to_have_text("Picture removed.")
        expect(pictures_in(host_item)).to_have_count(0)
        expect(host_item).to_contain_text("PH")


def test_a_bad_upload_gets_a_clear_error_and_changes_nothing(server, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("These are my notes, not a picture.\n" * 50)
    huge = tmp_path / "huge.png"
    side = 2600  # random pixels hardly compress: about 20 MB
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(huge, compress_level=0)
    assert huge.stat().st_size > 19 * 1024 * 1024

    with chromium() as chrome:
        page = chrome.new_context().new_page()
        sign_up(page, server.url, "pic_bad")
        page.goto(server.url + "/settings")
        field = page.get_by_label("Profile picture")
        for bad, message in ((text, NOT_A_PICTURE), (huge, TOO_LARGE)):
            page.get_by_label("Display name").fill("Changed Name")
            field.set_input_files(str(bad))
            page.get_by_role("button", name="Save").click()
            expect(page.locator("#picture-error")).to_have_text(message)
            expect(field).to_have_attribute("aria-invalid", "true")
            expect(pictures_in(page.get_by_role("main"))).to_have_count(0)
            assert serious_violations(page) == []
            page.goto(server.url + "/u/pic_bad")
            expect(page.get_by_role("heading", level=1)).to_have_text("pic_bad")  # not renamed
            page.goto(server.url + "/settings")
            field = page.get_by_label("Profile picture")
        assert server.sql("SELECT picture_version FROM users WHERE username = 'pic_bad'") == [
            (None,)
        ]


def test_a_pinned_post_appears_for_a_listener_within_a_second(server):
    with chromium() as chrome:
        host, room, (listener,) = open_space(chrome, server.url, "pin_host", "Pins", "pin_ear")
        expect(listener.get_by_role("region", name="Pinned")).to_have_count(0)

        home = host.context.new_page()
        home.goto(server.url + "/")
        home.get_by_label("What's happening?").fill("Ask your questions in the replies")
        home.get_by_role("button", name="Post").click()
        post = home.get_by_role("listitem").filter(has_text="Ask your questions in the replies")
        post.get_by_role("button", name="Pin to my Space").click()
        expect(home.get_by_role("alert")).to_contain_text("Pinned to your Space.")

        pinned = listener.get_by_role("region", name="Pinned")
        expect(pinned).to_contain_text("Ask your questions in the replies", timeout=1_000)
        expect(pinned.get_by_role("button", name="Unpin")).to_have_count(0)
        assert serious_violations(listener) == []

        host_pinned = host.get_by_role("region", name="Pinned")
        expect(host_pinned).to_contain_text("Ask your questions in the replies")
        host_pinned.get_by_role("button", name="Unpin").click()
        expect(pinned).to_have_count(0)
        expect(host.get_by_role("region", name="Pinned")).to_have_count(0)
        assert room.startswith(server.url)
