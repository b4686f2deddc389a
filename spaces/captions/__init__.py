"""Live captions: a local faster-whisper model, a per-speaker streaming policy, and a worker
process that keeps inference away from the audio relay.

    worker = CaptionWorker(model_dir=None)       # None: the bundled tiny.en model
    worker.start()
    worker.feed((space_id, user_id), frame, t)   # never blocks
    for key, update in worker.poll(): ...        # (key, CaptionUpdate)
"""

from .engine import CaptionModelUnavailable, Transcriber, load_model, warm_up
from .policy import StreamPolicy
from .scheduler import StreamSet
from .streaming import CaptionUpdate, SpeakerStream
from .worker import CaptionWorker

__all__ = [
    "CaptionModelUnavailable",
    "CaptionUpdate",
    "CaptionWorker",
    "SpeakerStream",
    "StreamPolicy",
    "StreamSet",
    "Transcriber",
    "load_model",
    "warm_up",
]
