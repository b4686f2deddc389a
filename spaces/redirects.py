"""Where a `next` (or any other return address) may send someone: a path on this site only."""

from urllib.parse import urlsplit


def same_site_path(target: str | None) -> str | None:
    """`target` as a path on this site, or None if a browser could read it as anywhere else.

    Browsers drop tabs and newlines anywhere in a URL, trim control characters and spaces at its
    ends, and read a backslash as a slash: "/", a tab, "/evil.example" and "/", a backslash,
    "evil.example" both mean "//evil.example", another site. The same clean-up comes first here
    (stricter: every unprintable character goes), then anything with a scheme or a host, or
    starting "//", is refused. The cleaned path is returned, so what is checked is what is sent.
    """
    if not target:
        return None
    cleaned = "".join(c for c in target if c.isprintable()).strip().replace("\\", "/")
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned
