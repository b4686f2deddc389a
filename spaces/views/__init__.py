"""HTTP views: parse the request, call the domain, render a template. One blueprint per
feature; the app factory registers them."""

from . import (
    admin,
    audio_socket,
    auth,
    edge_address,
    home,
    live_socket,
    messages,
    people,
    reports,
    rooms,
    settings,
    transcripts,
)

BLUEPRINTS = (
    admin.bp,
    audio_socket.bp,
    auth.bp,
    edge_address.bp,
    home.bp,
    live_socket.bp,
    messages.bp,
    people.bp,
    reports.bp,
    rooms.bp,
    settings.bp,
    transcripts.bp,
)
