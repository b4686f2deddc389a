"""The fan-out benchmark's clients and figures (bench/audio_fanout.py; the drills use them too).

Everything speaks docs/audio-protocol.md on raw sockets. Listeners run in worker processes, each
holding a few hundred sockets on one epoll loop; per received frame they only count it and look
for the burst pattern with a C-level substring search (`bursts`). Latency is measured end to end
from the marker speaker's send of a burst to its arrival in the mix (`window`).
"""
