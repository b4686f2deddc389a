"""HTTP views: parse the request, call the domain, render a template. One blueprint per
feature; the app factory registers them."""

from . import (
    admin,
    audio_socket,
    auth,
    edge_address,
    explore,
    guests,
    home,
    live_socket,
    messages,
    notifications,
    people,
    pictures,
    pins,
    reports,
    rooms,
    schedule,
    settings,
    transcripts,
)

BLUEPRINTS = (
    admin.bp,
    audio_socket.bp,
    auth.bp,
    edge_address.bp,
    explore.bp,
    guests.bp,
    home.bp,
    live_socket.bp,
    messages.bp,
    notifications.bp,
    people.bp,
    pictures.bp,
    pins.bp,
    reports.bp,
    rooms.bp,
    schedule.bp,
    settings.bp,
    transcripts.bp,
)
