"""The wire format room events cross nodes in: what is read back equals what was sent."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces.events import WIRE_VERSION, RoomEvent, from_wire, to_wire

ids = st.frozensets(st.integers(min_value=1, max_value=2**63 - 1), max_size=5)
events = st.builds(
    RoomEvent,
    space_id=st.integers(min_value=1, max_value=2**63 - 1),
    sections=st.frozensets(st.sampled_from(["meta", "stage", "listeners", "requests", "ended"])),
    users=ids,
    notices=st.lists(st.tuples(st.integers(min_value=1), st.text()), max_size=3).map(tuple),
    removed=ids,
    left=ids,
    kind=st.sampled_from(["change", "ended"]),
    extra=st.dictionaries(st.text(max_size=8), st.text() | st.integers() | st.none(), max_size=3),
)


@given(events, st.text(min_size=1, max_size=20))
def test_every_field_round_trips(event, origin):
    back_origin, back = from_wire(to_wire(event, origin))
    assert back == event
    assert back_origin == origin
    assert isinstance(back.notices, tuple) and all(isinstance(n, tuple) for n in back.notices)
    assert all(isinstance(s, frozenset) for s in (back.sections, back.users, back.removed))


def test_the_wire_names_its_version_and_sender():
    event = RoomEvent(7, sections=frozenset({"stage"}), notices=((3, "You are a speaker now."),))
    message = json.loads(to_wire(event, "node-a"))
    assert message["v"] == WIRE_VERSION and message["origin"] == "node-a"
    assert message["event"]["notices"] == [[3, "You are a speaker now."]]


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({"v": WIRE_VERSION + 1, "origin": "n", "event": {}}),
        json.dumps({"origin": "n", "event": {}}),
        json.dumps([1, 2]),
        "not json",
    ],
)
def test_another_version_or_no_event_is_refused(data):
    with pytest.raises(ValueError):
        from_wire(data)
