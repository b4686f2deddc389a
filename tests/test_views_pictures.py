"""Profile pictures over HTTP: `Profile picture` in Settings, the picture's URL, and where it
shows (the room, Live now, profiles, posts, messages); and pinning a post from the timeline."""

import io
from pathlib import Path

import pytest
from PIL import Image

from spaces import db as dbm
from spaces import pictures
from testkit.html_query import field_error, parse


def png(size=(600, 400), color=(20, 120, 220)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def upload(person, data: bytes, filename="me.png", **fields):
    """The Settings form as a person sends it: their name and bio as they are, and the file."""
    form = {"display_name": fields.pop("display_name", person.username), "bio": "", **fields}
    form["picture"] = (io.BytesIO(data), filename)
    person.get("/settings")
    return person.post("/settings", form, htmx=False, content_type="multipart/form-data")


def version(app, person) -> str | None:
    db = dbm.connect(app.config["DATABASE"])
    return pictures.version_of(db, person.user["id"])


def picture_srcs(html: bytes, within: str | None = None) -> list[str]:
    doc = parse(html)
    root = doc.by_id(within) if within else doc
    return [img.get("src") for img in root.find_all("img") if "/pictures/" in img.get("src", "")]


def start_space(person, title="Faces") -> str:
    response = person.post("/spaces/new", {"title": title, "speaker_policy": "everyone"}, False)
    assert response.status_code == 302, response.data
    return response.headers["Location"]


def test_an_uploaded_picture_is_served_reencoded_with_long_cache_headers(app, browser):
    alice = browser("alice")
    response = upload(alice, png())
    assert response.status_code == 200 and b"Saved." in response.data
    v = version(app, alice)
    url = f"/pictures/{alice.user['id']}-{v}.webp"
    assert picture_srcs(response.data) == [url]  # the form shows the new picture

    served = alice.get(url)
    assert served.status_code == 200
    assert served.mimetype == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    cache = served.cache_control
    assert cache.max_age >= 365 * 24 * 3600 and cache.immutable and cache.public
    image = Image.open(io.BytesIO(served.data))
    assert image.format == "WEBP" and image.size == (256, 256)
    assert served.data != png()

    # A new picture is a new URL; the old one is gone for good.
    upload(alice, png(color=(250, 200, 0)))
    assert alice.get(url).status_code == 404
    assert alice.get(f"/pictures/{alice.user['id']}-{version(app, alice)}.webp").status_code == 200
    assert len(list(Path(app.config["PICTURES_DIR"]).iterdir())) == 1


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"I am a text file, honest\n" * 40, "notes.png", pictures.NOT_A_PICTURE),
        (png()[:300], "cut.png", pictures.UNREADABLE),
    ],
    ids=["text-named-png", "truncated"],
)
def test_a_bad_upload_says_why_and_changes_nothing(app, browser, data, filename, message):
    alice = browser("alice")
    upload(alice, png())
    before = version(app, alice)
    response = upload(alice, data, filename, display_name="Alice New Name")
    assert response.status_code == 400
    assert field_error(response.data, "picture") == message
    assert parse(response.data).by_id("picture").get("aria-invalid") == "true"
    assert version(app, alice) == before
    assert b"Alice New Name" not in alice.get("/u/alice").data  # the other fields were not saved


def test_a_20_mb_upload_is_refused_with_a_clear_message(app, browser):
    alice = browser("alice")
    response = upload(alice, b"\x89PNG" + b"\0" * (20 * 1024 * 1024), "huge.png")
    assert response.status_code == 413
    assert field_error(response.data, "picture") == pictures.TOO_LARGE
    assert version(app, alice) is None
    # The limit is the form's only: any other form keeps the small one.
    big_post = alice.post("/posts", {"body": "x" * (200 * 1024)})
    assert big_post.status_code == 413


def test_remove_picture_goes_back_to_initials(app, browser):
    alice = browser("alice")
    upload(alice, png(), display_name="Alice Liddell")
    page = parse(alice.get("/settings").data)
    assert "Remove picture" in page.buttons()
    response = alice.post("/settings/picture/remove", {}, htmx=False)
    assert b"Picture removed." in response.data
    assert version(app, alice) is None
    assert picture_srcs(alice.get("/u/alice").data) == []
    assert "AL" in parse(alice.get("/u/alice").data).find("span", class_="avatar large").text


def test_the_picture_shows_in_the_room_live_now_profile_posts_and_messages(app, browser):
    alice, bob = browser("alice"), browser("bob")
    upload(alice, png(), display_name="Alice Liddell")
    url = f"/pictures/{alice.user['id']}-{version(app, alice)}.webp"
    bob.post("/u/alice/follow")
    alice.post("/posts", {"body": "Hello from Alice"})
    alice.post("/messages/bob", {"body": "Hi Bob"}, htmx=False)
    room = start_space(alice)
    bob.post(room + "/join")

    room_page = parse(bob.get(room).data)
    host_item = room_page.find("ul", aria_labelledby="host-heading").find("li")
    assert "Alice Liddell" in host_item.text and "@alice" in host_item.text
    assert [i.get("src") for i in host_item.find_all("img")] == [url]
    assert "Hosted by Alice Liddell" in room_page.by_id("space-meta").text

    home = bob.get("/").data
    assert url in picture_srcs(home, "live-now")
    assert "Hosted by Alice Liddell" in parse(home).by_id("live-now").text
    assert url in picture_srcs(home)  # her post in the timeline
    assert url in picture_srcs(bob.get("/u/alice").data)
    assert url in picture_srcs(bob.get("/messages/alice").data, "thread")


# Pinning a post ------------------------------------------------------------------------------


def test_the_host_pins_a_post_from_home_and_the_room_shows_it(app, browser):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/posts", {"body": "Before the Space"})
    assert "Pin to my Space" not in parse(alice.get("/").data).buttons()  # hosting nothing
    room = start_space(alice)
    bob.post(room + "/join")
    bob.post("/posts", {"body": "Bob's post"})
    bob.post("/u/alice/follow")

    home = parse(alice.get("/").data)
    assert home.buttons().count("Pin to my Space") == 1  # her own post only
    assert "Pin to my Space" not in parse(bob.get("/").data).buttons()  # a listener
    assert "Pinned" not in parse(bob.get(room).data).text

    post_id = (
        dbm.connect(app.config["DATABASE"])
        .execute("SELECT id FROM posts WHERE body = 'Before the Space'")
        .fetchone()[0]
    )
    answer = alice.post(room + "/pin", {"post_id": post_id})
    assert answer.status_code == 200 and b"Pinned to your Space." in answer.data

    region = parse(bob.get(room).data).by_id("pinned")
    assert region.get("aria-labelledby") == "pinned-heading"
    assert "Before the Space" in region.text
    assert "Unpin" not in region.buttons()  # only the host
    assert "Unpin" in parse(alice.get(room).data).by_id("pinned").buttons()

    answer = alice.post(room + "/unpin")
    assert parse(answer.data).by_id("pinned").get("hidden") is not None
    assert parse(bob.get(room).data).by_id("pinned").get("hidden") is not None


def test_pinning_someone_elses_post_is_refused(app, browser):
    alice, bob = browser("alice"), browser("bob")
    room = start_space(alice)
    bob.post("/posts", {"body": "Bob's post"})
    post_id = dbm.connect(app.config["DATABASE"]).execute("SELECT id FROM posts").fetchone()[0]
    answer = alice.post(room + "/pin", {"post_id": post_id})
    assert answer.status_code == 403 and b"You can only pin your own posts." in answer.data
    assert "Bob's post" not in parse(alice.get(room).data).text
