"""When things happened, as people read it: "2 min ago" for recent posts and messages, a date
for older ones, and how long a Space has been live. Always from the one clock (clock.py); the
`<time datetime>` carries the exact UTC moment for machines and screen readers."""

from datetime import UTC, datetime

from markupsafe import Markup, escape

from .clock import now

MINUTE, HOUR, DAY = 60, 3600, 86400


def iso(ts: float) -> str:
    """`2026-12-02T01:43:11Z`: what `<time datetime>` holds."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(ts: float, at: float | None = None) -> str:
    """ "just now", "2 min ago", "3 hours ago" within a day; older, the date ("Nov 30", with the
    year when it is not this year's)."""
    at = now() if at is None else at
    seconds = max(0.0, at - ts)
    if seconds < MINUTE:
        return "just now"
    if seconds < HOUR:
        return f"{int(seconds // MINUTE)} min ago"
    if seconds < DAY:
        hours = int(seconds // HOUR)
        return f"{hours} hour{'' if hours == 1 else 's'} ago"
    then, today = datetime.fromtimestamp(ts, tz=UTC), datetime.fromtimestamp(at, tz=UTC)
    text = f"{then:%b} {then.day}"
    return text if then.year == today.year else f"{text}, {then.year}"


def time_tag(ts: float | None) -> Markup:
    """The `when` filter: `<time datetime="…Z" title="2026-12-02 01:43 UTC">2 min ago</time>`."""
    if ts is None:
        return Markup("")
    full = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso(ts), full, escape(ago(ts)))


def live_for(started: float, at: float | None = None) -> str:
    """The `live_for` filter: "Live for 12 min", "Live for 1 hr 5 min"."""
    at = now() if at is None else at
    minutes = int(max(0.0, at - started) // MINUTE)
    if minutes < 1:
        return "Live for less than a minute"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"Live for {minutes} min"
    return f"Live for {hours} hr" + (f" {minutes} min" if minutes else "")
