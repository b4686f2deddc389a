"""Where a participant's audio socket and room page's live socket go: the core for speakers and
the host, an edge for listeners (EDGE_URLS set), with the grant that edge checks.

Each listener gets every edge, starting at one picked by their id (so a Space's listeners spread
over the edges and a person returns to the same one), and tries the next when one does not
answer: that is the failover. An entry may be a full base URL (`ws://10.0.0.5:5101`) or a bare
`/` for "this origin", when a proxy in front sends sockets that carry a grant to the edges
(docs/nginx-cluster.conf).
"""

from urllib.parse import quote

from .. import grants


def edge_urls(setting: str) -> list[str]:
    """EDGE_URLS (comma separated) as a list of base URLs without a trailing slash."""
    return [url.strip().rstrip("/") for url in setting.split(",") if url.strip()]


def audio_addresses(
    edges: list[str],
    secret_key: str,
    user_id: int,
    space_id: int,
    role: str | None,
    socket: str = "audio",
) -> list[str]:
    """The socket URLs to try in turn (`socket`: "audio", or "live" for the room page's);
    [] means the core's own (same origin, no grant)."""
    if not edges or role != "listener":
        return []
    token = quote(grants.issue(secret_key, user_id, space_id, "listener"))
    first = user_id % len(edges)
    ordered = edges[first:] + edges[:first]
    return [f"{base}/spaces/{space_id}/{socket}?grant={token}" for base in ordered]
