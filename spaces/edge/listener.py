"""One socket an edge serves: a listener's audio socket, or a room page's live socket."""

from dataclasses import dataclass, field

from ..realtime.outbox import Outbox
from .live_channel import LIVE


@dataclass(eq=False)
class EdgeListener:
    space_id: int
    user_id: int
    outbox: Outbox
    address: str
    issued_at: float  # when the core signed the grant it came with
    codec: str = "pcm"  # "pcm" (v1) or "opus" (v2), as AudioConnection.codec on the core;
    # LIVE for a room page's live socket (spaces/edge/live_channel.py)
    account: tuple = ()
    open: bool = True
    frames: int = field(default=0)
    # A room page's (as the hub's Connection): captions go to visible pages that turned them on
    # and whose person may view them (the core's word, with the full state; verdicts take it back)
    visible: bool = True
    captions_on: bool = False
    may_view_captions: bool = False

    def __post_init__(self) -> None:
        self.account = (self.space_id, self.user_id, "live" if self.codec == LIVE else "audio")
