"""Whatever arrives on the wire, the gateway's ingest never raises and never stores garbage:
bad input becomes dead letters, and the device's state is untouched."""

from __future__ import annotations

import json

from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from openvend.devices.models import DeadLetter, DeviceMessage, DeviceState
from openvend.gateway.ingest import DeviceDirectory, Received, ingest_batch
from tests.devices.factories import activated_device

topics = st.one_of(
    st.just("ov/v1/d/FUZ-0001/up/telemetry"),
    st.just("ov/v1/d/FUZ-0001/up/event"),
    st.sampled_from(["ov/v1/d/FUZ-0001/up/nope", "ov/v1/d/+/up/hb", "x", "", "ov/v1/d/FUZ-0001/down/cmd"]),
    st.text(max_size=60),
)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.one_of(
    st.binary(max_size=300),
    json_like.map(lambda value: json.dumps(value, allow_nan=True).encode()),
    st.fixed_dictionaries(
        {
            "v": st.integers(0, 2),
            "id": st.text(max_size=40),
            "seq": json_like,
            "ts": json_like,
            "type": st.sampled_from(["telemetry", "event", "hb"]),
            "body": json_like,
        }
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(topics, payloads), min_size=1, max_size=6))
@example(batch=[("\x00", b"")])  # PostgreSQL text refuses U+0000: the dead letter must still be stored
@example(batch=[("ov/v1/d/FUZ-0001/up/event", b"\x00\xff")])
def test_ingest_never_raises_and_stores_nothing_invalid(world_a, batch) -> None:
    if not DeviceState.objects.filter(device__code="FUZ-0001").exists():
        activated_device(world_a, "FUZ-0001")
    before = DeviceState.objects.filter(device__code="FUZ-0001").values().get()
    stored_before = DeviceMessage.objects.count()
    dead_before = DeadLetter.objects.count()
    result = ingest_batch([Received(t, p, timezone.now()) for t, p in batch], DeviceDirectory())
    assert result.stored + result.dead + result.duplicates == len(batch)
    assert DeviceMessage.objects.count() - stored_before == result.stored
    assert DeadLetter.objects.count() - dead_before == result.dead
    if result.stored == 0:
        assert DeviceState.objects.filter(device__code="FUZ-0001").values().get() == before
