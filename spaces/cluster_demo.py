"""`python -m spaces.cluster_demo` (`make cluster`): a whole deployment on one machine, for demos
and trying things: redis-server, the core (spaces.serve) with EDGE_URLS naming two edges
(spaces.edge), all on 127.0.0.1. Ctrl-C stops them all.

Ports from the environment: PORT (core, 5000), EDGE_PORTS (5101,5102), REDIS_PORT (6390);
DATA_DIR as for `make run`. The Redis keeps nothing on disk.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from . import config


def stop(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C, or SIGTERM from whoever started the demo (a background job ignores SIGINT).
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("redis-server is not installed (Debian: apt-get install redis-server)")
    settings = config.defaults()
    data = config.private_dir(settings["DATA_DIR"])
    secret_key = config.secret_key(data)
    redis_port = os.environ.get("REDIS_PORT", "6390")
    edge_ports = os.environ.get("EDGE_PORTS", "5101,5102").split(",")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    edges = ",".join(f"ws://127.0.0.1:{port}" for port in edge_ports)
    common = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": secret_key}
    redis_cmd = [redis_server, "--port", redis_port, "--bind", "127.0.0.1", "--save", ""]
    procs = [subprocess.Popen([*redis_cmd, "--appendonly", "no"], cwd=data)]
    time.sleep(0.5)
    procs.append(
        subprocess.Popen([sys.executable, "-m", "spaces.serve"], env={**common, "EDGE_URLS": edges})
    )
    for port in edge_ports:
        env = {**common, "EDGE_PORT": port}
        procs.append(subprocess.Popen([sys.executable, "-m", "spaces.edge"], env=env))
    print(
        f"cluster: core http://{settings['HOST']}:{settings['PORT']}, edges {edges},"
        f" Redis {redis_url}. Ctrl-C stops them.",
        flush=True,
    )
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
