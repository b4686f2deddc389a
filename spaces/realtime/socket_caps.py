"""Caps on open sockets: each holds a thread, so one account or one address must not open
hundreds (issue 13 item 8). The live hub asks here before it registers a socket of either kind."""

from collections import defaultdict
from typing import Protocol


class Socket(Protocol):
    account: tuple  # (Space, person, kind of socket)
    address: str
    open: bool


class SocketCaps:
    """Open sockets by account (per Space and kind) and by client address. Not locked: the hub
    calls it under its own lock."""

    def __init__(self, per_account: int, per_address: int) -> None:
        self.per_account = per_account  # 0: no cap
        self.per_address = per_address
        self.by_account: dict[tuple, set[Socket]] = defaultdict(set)
        self.by_address: dict[str, set[Socket]] = defaultdict(set)

    def admit(self, sock: Socket) -> bool:
        """Counts `sock` in, or answers False when its account or its address is at its cap."""
        if _full(self.by_account.get(sock.account, ()), self.per_account):
            return False
        if _full(self.by_address.get(sock.address, ()), self.per_address):
            return False
        self.by_account[sock.account].add(sock)
        self.by_address[sock.address].add(sock)
        return True

    def release(self, sock: Socket) -> None:
        for index, key in ((self.by_account, sock.account), (self.by_address, sock.address)):
            index[key].discard(sock)
            if not index[key]:
                del index[key]


def _full(socks, cap: int) -> bool:
    """`cap` of these sockets are open. One already closed whose handler has not finished yet
    does not count: leaving and joining again at once is no reason to refuse."""
    return bool(cap) and sum(s.open for s in socks) >= cap
