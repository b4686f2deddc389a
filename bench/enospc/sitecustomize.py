"""A full disk for the recording, for drill F4 and tests/test_faults.py: a server started with
this folder on PYTHONPATH fails every Ogg write with ENOSPC after ENOSPC_AFTER_FRAMES frames."""

import errno
import os

import soundfile

_real = soundfile.SoundFile.buffer_write
_left = {"frames": int(os.environ.get("ENOSPC_AFTER_FRAMES", "500"))}


def buffer_write(self, data, dtype):
    if self.name.endswith(".ogg"):
        _left["frames"] -= 1
        if _left["frames"] < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _real(self, data, dtype)


soundfile.SoundFile.buffer_write = buffer_write
