"""A full disk for the recording, for drill F4 and tests/test_faults.py: a server started with
this folder on PYTHONPATH fails every write to an Ogg file it opens for writing with ENOSPC once
about ENOSPC_AFTER_FRAMES frames (20 ms each) are in it. The recorder writes the two header pages,
then a page every half second, so the count is kept in writes: two, then one per 25 frames."""

import builtins
import errno
import os

_real_open = builtins.open
_left = {"writes": 2 + int(os.environ.get("ENOSPC_AFTER_FRAMES", "500")) // 25}


class _FillingFile:
    def __init__(self, file) -> None:
        self._file = file

    def write(self, data) -> int:
        if _left["writes"] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _left["writes"] -= 1
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


def _open(file, mode="r", *args, **kwargs):
    opened = _real_open(file, mode, *args, **kwargs)
    if isinstance(file, str | os.PathLike) and str(file).endswith(".ogg") and "w" in mode:
        return _FillingFile(opened)
    return opened


builtins.open = _open
