"""The caption benchmark's smallest version (`bench/captions.py --tiny`): it generates its own
two-part espeak-ng set, runs the streaming policy through the fast harness and offline decoding
on both parts, and prints the line the full benchmark prints."""

import os
import re
import subprocess
import sys

import pytest

from testkit.server import ROOT

pytestmark = pytest.mark.model

LINE = re.compile(
    r"^captions wer=(?P<wer>[\d.]+) offline_wer=(?P<offline>[\d.]+) ratio=[\d.]+ "
    r"heldout_wer=(?P<hwer>[\d.]+) heldout_offline_wer=(?P<hoffline>[\d.]+) heldout_ratio=[\d.]+ "
    r"final_p50_s=[\d.]+ final_p95_s=[\d.]+ partial_p50_s=[\d.]+ concurrent_speakers=\d+$"
)


def test_tiny_caption_benchmark_runs_both_parts():
    result = subprocess.run(
        [sys.executable, "bench/captions.py", "--tiny"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's spaces and bench
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m, last
    assert "tuning: 2 files" in result.stdout and "heldout: 2 files" in result.stdout
    # Two short clips of synthetic speech: streaming stays close to offline decoding.
    assert float(m["wer"]) <= float(m["offline"]) + 0.1, result.stdout
    assert float(m["hwer"]) <= float(m["hoffline"]) + 0.1, result.stdout
