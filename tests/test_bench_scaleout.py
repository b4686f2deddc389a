"""The scale-out drill's smallest version (`bench/scaleout.py --tiny`): a core, two edges and
Redis; 11 speakers, 10 listeners split across the edges; no frame lost, failover within 3 s after
kill -9 of an edge, a removal closing the edge socket within 1 s. docs/reliability.md has the
figures at larger sizes."""

import os
import subprocess
import sys

import pytest

from testkit.server import ROOT

pytestmark = pytest.mark.live


def test_scaleout_small_version_passes():
    result = subprocess.run(
        [sys.executable, "bench/scaleout.py", "--tiny"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's spaces and testkit
        capture_output=True,
        text=True,
        timeout=240,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("scaleout ")), "")
    print(result.stdout[-1500:])
    assert result.returncode == 0 and " lost=0 " in line, (line, result.stderr[-2000:])
