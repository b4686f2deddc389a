"""HTTP views: parse the request, call the domain, render a template. One blueprint per
feature; the app factory registers them."""

from . import admin, audio, auth, home, live, messages, people, reports, rooms, transcripts

BLUEPRINTS = tuple(
    module.bp
    for module in (admin, audio, auth, home, live, messages, people, reports, rooms, transcripts)
)
