"""`python -m spaces.edge`: an edge node, served by gunicorn as the core is (spaces/serve.py).

Settings from the environment: REDIS_URL (required), SECRET_KEY (the core's; or, on the core's
machine, DATA_DIR's secret_key file), EDGE_HOST (127.0.0.1), EDGE_PORT (5101), and the core's
SOCKETS_PER_ACCOUNT, SOCKETS_PER_ADDRESS, RATELIMIT_ENABLED, TRUSTED_PROXIES, REQUEST_TIMEOUT,
SERVER_THREADS, SERVER_CONNECTIONS, PRESENCE_TTL_SECONDS.
"""

import logging
import os
import sys
from pathlib import Path

from .. import cluster, config
from ..presence import RedisPresence
from ..realtime.close_codes import RESTART
from ..realtime.socket_caps import SocketCaps
from ..request_guard import RequestGuard
from ..serve import Server, raise_open_files_limit
from .app import create_edge_app
from .node import EdgeNode

log = logging.getLogger("spaces.edge")


def settings() -> dict:
    """The core's defaults, with the edge's own address; exits when REDIS_URL or the key lack."""
    values = config.defaults()
    values["HOST"] = os.environ.get("EDGE_HOST", "127.0.0.1")
    values["PORT"] = int(os.environ.get("EDGE_PORT", "5101"))
    key_file = Path(values["DATA_DIR"]) / "secret_key"
    values["SECRET_KEY"] = os.environ.get("SECRET_KEY") or (
        key_file.read_text().strip() if key_file.exists() else ""
    )
    if not values["REDIS_URL"] or not values["SECRET_KEY"]:
        sys.exit("spaces.edge needs REDIS_URL and SECRET_KEY (the core's) in its environment")
    return values


class EdgeServer(Server):
    def load(self) -> RequestGuard:
        values = self.settings
        client = cluster.connect(values["REDIS_URL"])
        node_name = "edge:" + cluster.node_name()
        presence = RedisPresence(client, node_name, values["PRESENCE_TTL_SECONDS"])
        limits = values["RATELIMIT_ENABLED"]
        caps = SocketCaps(
            values["SOCKETS_PER_ACCOUNT"], values["SOCKETS_PER_ADDRESS"] if limits else 0
        )
        node = EdgeNode(client, node_name, presence, caps)
        app = create_edge_app(values, node)
        node.start()
        self.flask_app = app
        log.info("Spaces edge is serving listeners on http://%s", self.cfg.bind[0])
        return RequestGuard(
            app,
            in_flight=0,
            read_timeout=values["REQUEST_TIMEOUT"],
            max_body=values["MAX_CONTENT_LENGTH"],
        )

    def stop_workers(self) -> None:
        """On SIGTERM or SIGINT: sockets closed with 1012, so clients reconnect elsewhere."""
        if self.flask_app is None or self.stopped:
            return
        self.stopped = True
        self.flask_app.extensions["spaces_edge"].close_all(RESTART, "restart")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    values = settings()
    raise_open_files_limit(values["SERVER_CONNECTIONS"] + 256)
    EdgeServer(values).run()


if __name__ == "__main__":
    main()
