"""Profile pictures (spaces/pictures.py): what is accepted, what is kept, and what is removed."""

import io
import os
import struct
import time
import zlib

import pytest
from PIL import Image

from spaces import pictures
from spaces.errors import Invalid


def image_bytes(fmt: str, size=(640, 480), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says width x height: what a decompression bomb looks like before
    it is decoded (its pixel data would inflate to gigabytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_an_image_is_cropped_square_resized_and_reencoded_as_webp(fmt):
    sent = image_bytes(fmt, size=(1200, 600))
    kept = pictures.process(sent)
    assert kept != sent and kept[:4] == b"RIFF" and kept[8:12] == b"WEBP"
    image = decoded(kept)
    assert image.format == "WEBP" and image.size == (pictures.SIDE, pictures.SIDE)
    r, g, b = image.convert("RGB").getpixel((128, 128))
    assert r > 150 and g < 80 and b < 80  # still the red picture


def test_metadata_is_not_kept():
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    sent = image_bytes("JPEG", exif=exif.tobytes(), comment=b"my home address")
    assert b"SecretCam" in sent
    kept = pictures.process(sent)
    assert b"SecretCam" not in kept and b"home address" not in kept
    image = decoded(kept)
    assert not image.getexif() and "icc_profile" not in image.info and "exif" not in image.info


def test_a_portrait_photo_stands_upright():
    """A phone stores a portrait photo as landscape pixels plus an EXIF orientation."""
    out = io.BytesIO()
    image = Image.new("RGB", (400, 200), (0, 0, 255))
    image.paste((255, 255, 0), (0, 0, 200, 200))  # left half yellow, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    image.save(out, "JPEG", exif=exif.tobytes())
    kept = decoded(pictures.process(out.getvalue())).convert("RGB")
    top, bottom = kept.getpixel((128, 10)), kept.getpixel((128, 245))
    assert top[2] < 100 < top[0]  # yellow on top once turned upright
    assert bottom[2] > 150 > bottom[0]


def test_transparency_is_kept():
    out = io.BytesIO()
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(out, "PNG")
    image = decoded(pictures.process(out.getvalue()))
    assert image.mode == "RGBA" and image.getpixel((10, 10))[3] == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, this is text and not a picture\n" * 10, pictures.NOT_A_PICTURE),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", pictures.NOT_A_PICTURE),
        (b"%PDF-1.4\n", pictures.NOT_A_PICTURE),
        (image_bytes("BMP"), pictures.NOT_A_PICTURE),  # a real image, not a format we take
        (image_bytes("PNG")[:200], pictures.UNREADABLE),  # cut short
        (b"", "Choose a picture to upload."),
    ],
    ids=["text", "svg", "pdf", "bmp", "truncated", "empty"],
)
def test_what_is_not_a_usable_picture_is_refused_with_a_reason(data, message):
    with pytest.raises(Invalid) as refused:
        pictures.process(data)
    assert refused.value.message == message and refused.value.field == "picture"


def test_a_file_over_the_limit_is_refused_before_it_is_decoded():
    big = image_bytes("PNG", size=(64, 64)) + os.urandom(pictures.MAX_BYTES)
    with pytest.raises(Invalid) as refused:
        pictures.process(big)
    assert refused.value.message == pictures.TOO_LARGE


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_claiming(50_000, 50_000)  # 2.5 gigapixels in a few hundred bytes
    assert len(bomb) < 2000
    with pytest.raises(Invalid) as refused:
        pictures.process(bomb)
    assert refused.value.message == pictures.TOO_MANY_PIXELS
    just_over = png_claiming(8000, 5001)  # under Pillow's own bomb limit, over ours
    with pytest.raises(Invalid) as refused:
        pictures.process(just_over)
    assert refused.value.message == pictures.TOO_MANY_PIXELS


def test_store_replaces_the_picture_before_and_remove_goes_back_to_initials(
    db, make_user, tmp_path
):
    folder = tmp_path / "pictures"  # the database is in tmp_path itself
    alice, bob = make_user("alice"), make_user("bob")
    first = pictures.store(db, folder, alice["id"], pictures.process(image_bytes("PNG")))
    bobs = pictures.store(db, folder, bob["id"], pictures.process(image_bytes("PNG")))
    assert pictures.version_of(db, alice["id"]) == first
    assert (
        pictures.current_file(db, folder, alice["id"], first)
        == folder / f"{alice['id']}-{first}.webp"
    )

    second = pictures.store(db, folder, alice["id"], pictures.process(image_bytes("JPEG")))
    assert second != first
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{alice['id']}-{second}.webp", f"{bob['id']}-{bobs}.webp"]
    ), "the old picture is gone, no draft is left"
    assert pictures.current_file(db, folder, alice["id"], first) is None  # an old URL: 404
    assert pictures.current_file(db, folder, alice["id"], "../../etc") is None

    assert pictures.remove(db, folder, alice["id"]) is True
    assert pictures.version_of(db, alice["id"]) is None
    assert [p.name for p in folder.iterdir()] == [f"{bob['id']}-{bobs}.webp"]
    assert pictures.remove(db, folder, alice["id"]) is False


def test_a_deleted_accounts_picture_is_deleted_too(db, make_user, tmp_path):
    folder = tmp_path / "pictures"
    alice, bob = make_user("alice"), make_user("bob")
    kept = pictures.store(db, folder, bob["id"], pictures.process(image_bytes("PNG")))
    pictures.store(db, folder, alice["id"], pictures.process(image_bytes("PNG")))
    assert pictures.delete_for_account(folder, alice["id"])
    assert [p.name for p in folder.iterdir()] == [f"{bob['id']}-{kept}.webp"]

    # An account deleted by any other path: the retention purge removes what nobody names,
    # once the files are older than the grace (a picture being stored is left alone).
    carol = make_user("carol")
    pictures.store(db, folder, carol["id"], pictures.process(image_bytes("PNG")))
    db.execute("DELETE FROM users WHERE id = ?", (carol["id"],))
    (folder / ".draft-left-by-a-crash").write_bytes(b"x")
    assert pictures.purge_orphans(db, folder) == []  # too new to tell from one being stored
    an_hour_ago = time.time() - pictures.ORPHAN_GRACE - 60
    for found in folder.iterdir():
        os.utime(found, (an_hour_ago, an_hour_ago))
    gone = pictures.purge_orphans(db, folder)
    assert sorted(p.name for p in gone)[0] == ".draft-left-by-a-crash" and len(gone) == 2
    assert [p.name for p in folder.iterdir()] == [f"{bob['id']}-{kept}.webp"]
