"""The review page's <audio> (templates/admin/review.html, served as audio/ogg) plays the
recording the relay writes: Opus packets muxed into Ogg, whole or cut short by kill -9."""

import pytest

from spaces.realtime.opus import OpusEncoder
from spaces.realtime.recorder import Recorder
from testkit.audio import tone_frames
from testkit.browser import chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

PLAYED = """async () => {
  const audio = document.querySelector("audio");
  if (audio.readyState < 1) {
    await new Promise((ok, fail) => { audio.onloadedmetadata = ok; audio.onerror = fail; });
  }
  const bytes = await (await fetch(audio.src)).arrayBuffer();
  const decoded = await new AudioContext().decodeAudioData(bytes);
  return {duration: audio.duration, decoded: decoded.duration};
}"""


def recording(tmp_path, seconds: float, cut: bool) -> bytes:
    """A recording of a tone; `cut`: its bytes as they were on disk before close (kill -9)."""
    path = tmp_path / "space-1.ogg"
    encoder = OpusEncoder()
    recorder = Recorder(path, header=encoder.header)
    for frame in tone_frames(seconds, amplitude=10_000):
        recorder.write_packet(encoder.encode(frame))
    on_disk = path.read_bytes()
    recorder.close()
    return on_disk if cut else path.read_bytes()


def serve(route, body: bytes) -> None:
    """The page, and the file with byte ranges as the download route answers them (send_file,
    conditional): without ranges a player cannot read an Ogg file's length from its end."""
    if not route.request.url.endswith(".ogg"):
        return route.fulfill(body='<audio controls src="r.ogg"></audio>', content_type="text/html")
    asked = route.request.headers.get("range", "")
    if not asked.startswith("bytes="):
        return route.fulfill(
            body=body, content_type="audio/ogg", headers={"Accept-Ranges": "bytes"}
        )
    first, _, last = asked.removeprefix("bytes=").partition("-")
    first, last = int(first), int(last) if last else len(body) - 1
    return route.fulfill(
        status=206,
        body=body[first : last + 1],
        content_type="audio/ogg",
        headers={"Accept-Ranges": "bytes", "Content-Range": f"bytes {first}-{last}/{len(body)}"},
    )


@pytest.mark.parametrize(("cut", "at_least"), [(False, 3.9), (True, 3.0)])
def test_chromium_plays_the_recording(tmp_path, cut, at_least):
    body = recording(tmp_path, 4.0, cut)
    with chromium() as browser:
        page = browser.new_page()
        page.route("http://review.test/**", lambda route: serve(route, body))
        page.goto("http://review.test/page")
        played = page.evaluate(PLAYED)
    assert at_least <= played["decoded"] <= 4.05
    assert played["duration"] == pytest.approx(played["decoded"], abs=0.1)
