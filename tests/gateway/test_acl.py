"""The topic ACL as pure functions, and its rendering into Mosquitto's files."""

from __future__ import annotations

import pytest

from openvend.devices.credentials import hash_secret
from openvend.gateway.broker import acl
from openvend.gateway.broker.mosquitto import render_acl_file, render_broker_config, render_password_file

GW = "openvend-gateway"


@pytest.mark.parametrize(
    ("username", "topic", "allowed"),
    [
        ("CAB1", "ov/v1/d/CAB1/up/status", True),
        ("CAB1", "ov/v1/d/CAB1/up/hb", True),
        ("CAB1", "ov/v1/d/CAB1/up/telemetry", True),
        ("CAB1", "ov/v1/d/CAB1/up/event", True),
        ("CAB1", "ov/v1/d/CAB1/up/ack", True),
        ("CAB10", "ov/v1/d/CAB10/up/status", True),
        # a code that is a prefix of another, both ways
        ("CAB1", "ov/v1/d/CAB10/up/status", False),
        ("CAB10", "ov/v1/d/CAB1/up/status", False),
        ("CAB1", "ov/v1/d/CAB1/up/unknown", False),
        ("CAB1", "ov/v1/d/CAB1/up", False),
        ("CAB1", "ov/v1/d/CAB1/up/", False),
        ("CAB1", "ov/v1/d/CAB1/up/status/", False),
        ("CAB1", "ov/v1/d/CAB1/up/status/more", False),
        ("CAB1", "/ov/v1/d/CAB1/up/status", False),
        ("CAB1", "ov//v1/d/CAB1/up/status", False),
        ("CAB1", "ov/v2/d/CAB1/up/status", False),
        ("CAB1", "OV/v1/d/CAB1/up/status", False),
        ("CAB1", "ov/v1/d/cab1/up/status", False),  # codes are case-sensitive
        ("cab1", "ov/v1/d/CAB1/up/status", False),
        ("CAB1", "ov/v1/d/CAB1/down/cmd", False),  # devices never publish downwards
        ("CAB1", "ov/v1/d/CAB1/up/Status", False),
        # wildcard injection, in the topic or the username
        ("CAB1", "ov/v1/d/+/up/status", False),
        ("CAB1", "ov/v1/d/CAB1/up/#", False),
        ("CAB1", "ov/v1/d/CAB1/up/+", False),
        ("+", "ov/v1/d/+/up/status", False),
        ("#", "ov/v1/d/#/up/status", False),
        ("CAB1/up/status/x", "ov/v1/d/CAB1/up/status/x/up/status", False),
        # empty and degenerate inputs
        ("", "ov/v1/d//up/status", False),
        (None, "ov/v1/d/CAB1/up/status", False),
        ("CAB1", "", False),
        ("CAB1", "ov/v1/d/CAB1/up/status\x00", False),
        ("CAB", "ov/v1/d/CAB/up/status", False),  # 3 characters: not a device code
        ("$SYS", "$SYS/ov/v1/d/CAB1/up/status", False),
        # unicode: look-alikes and non-ASCII never match, even when the two strings agree
        ("CАB1", "ov/v1/d/CАB1/up/status", False),  # Cyrillic А
        ("设备0001", "ov/v1/d/设备0001/up/status", False),
        ("CAB1", "ov/v1/d/CAB1/up/stätus", False),
        ("CAB1", "ov/v1/d/CAB1/up/status\ud800", False),
        ("CAB1", "ov/v1/d/ＣAB1/up/status", False),  # fullwidth C
    ],
)
def test_device_may_publish(username, topic, allowed) -> None:
    assert acl.device_may_publish(username, topic) is allowed


@pytest.mark.parametrize(
    ("username", "topic_filter", "allowed"),
    [
        ("CAB1", "ov/v1/d/CAB1/down/#", True),
        ("CAB1", "ov/v1/d/CAB1/down/cmd", True),
        ("CAB1", "ov/v1/d/CAB1/down/ack", True),
        ("CAB10", "ov/v1/d/CAB10/down/#", True),
        ("CAB1", "ov/v1/d/CAB10/down/#", False),
        ("CAB1", "ov/v1/d/CAB10/down/cmd", False),
        ("CAB10", "ov/v1/d/CAB1/down/cmd", False),
        ("CAB1", "ov/v1/d/CAB1/down/+", False),
        ("CAB1", "ov/v1/d/CAB1/down", False),
        ("CAB1", "ov/v1/d/CAB1/down/other", False),
        ("CAB1", "ov/v1/d/CAB1/down/cmd/#", False),
        ("CAB1", "ov/v1/d/CAB1/#", False),
        ("CAB1", "ov/v1/d/CAB1/+/cmd", False),
        ("CAB1", "ov/v1/d/CAB1/up/#", False),
        ("CAB1", "ov/v1/d/+/down/#", False),
        ("CAB1", "ov/v1/d/+/down/cmd", False),
        ("CAB1", "ov/v1/d/#", False),
        ("CAB1", "ov/v1/#", False),
        ("CAB1", "#", False),
        ("CAB1", "+/+/+/+/+/+", False),
        ("CAB1", "ov/v1/d/CAB1/down/#/x", False),  # '#' not last: an invalid filter
        ("CAB1", "ov/v1/d/CAB1/down/cm+", False),
        ("CAB1", "ov/v1/d/CAB1/down/c#", False),
        ("CAB1", "$share/g/ov/v1/d/CAB1/down/#", False),
        ("CAB1", "$share/g/ov/v1/d/CAB10/down/#", False),
        ("CAB1", "$SYS/#", False),
        ("CAB1", "$SYS/broker/clients/connected", False),
        ("+", "ov/v1/d/+/down/#", False),
        ("#", "ov/v1/d/#", False),
        ("", "ov/v1/d//down/#", False),
        (None, "ov/v1/d/CAB1/down/#", False),
        ("CAB1", "", False),
        ("CАB1", "ov/v1/d/CАB1/down/#", False),  # Cyrillic А
        ("CAB1", "ov/v1/d/CAB1/down/ｃmd", False),  # fullwidth c
    ],
)
def test_device_may_subscribe(username, topic_filter, allowed) -> None:
    assert acl.device_may_subscribe(username, topic_filter) is allowed


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("ov/v1/d/CAB1/down/cmd", True),
        ("ov/v1/d/CAB1/down/ack", True),
        ("ov/v1/d/CAB1/down/other", False),  # reachable through down/#, still not delivered
        ("ov/v1/d/CAB1/down", False),
        ("ov/v1/d/CAB1/down/cmd/x", False),
        ("ov/v1/d/CAB10/down/cmd", False),
        ("ov/v1/d/CAB1/up/status", False),
    ],
)
def test_device_may_receive(topic, allowed) -> None:
    assert acl.device_may_receive("CAB1", topic) is allowed


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("ov/v1/d/CAB1/down/cmd", True),
        ("ov/v1/d/CAB10/down/ack", True),
        ("ov/v1/d/CAB1/down/anything/deeper", True),
        ("ov/v1/d/CAB1/down", True),  # '#' matches the parent level too, as in Mosquitto
        ("ov/v1/d/设备/down/cmd", True),  # '+' matches any level; no such device can exist
        ("ov/v1/d/CAB1/up/status", False),  # the gateway never speaks for a device
        ("ov/v1/d/down/cmd", False),
        ("ov/v1/d/CAB1/Down/cmd", False),
        ("ov/v1/d/+/down/cmd", False),
        ("ov/v1/d/CAB1/down/#", False),
        ("$SYS/broker", False),
        ("", False),
        (f"ov/v1/d/{GW}/down/cmd", False),  # not to a "device" named like the gateway
    ],
)
def test_gateway_may_publish(topic, allowed) -> None:
    assert acl.gateway_may_publish(topic, gateway_username=GW) is allowed


def test_gateway_name_only_matters_when_given() -> None:
    assert acl.gateway_may_publish(f"ov/v1/d/{GW}/down/cmd") is True
    assert acl.gateway_may_receive(f"ov/v1/d/{GW}/up/status") is True
    assert acl.gateway_may_receive(f"ov/v1/d/{GW}/up/status", gateway_username=GW) is False


@pytest.mark.parametrize(
    ("topic_filter", "allowed", "allowed_without_share"),
    [
        ("ov/v1/d/+/up/#", True, True),
        ("$share/openvend-gateway/ov/v1/d/+/up/#", True, False),
        ("$share/g2/ov/v1/d/+/up/#", True, False),
        ("ov/v1/d/CAB1/up/#", True, True),
        ("ov/v1/d/CAB1/up/status", True, True),
        ("ov/v1/d/+/up/status", True, True),
        ("ov/v1/d/+/up/+", True, True),
        ("ov/v1/d/+/up", True, True),  # within ov/v1/d/+/up/#, which matches the parent level
        ("$share/g/ov/v1/d/CAB1/up/hb", True, False),
        ("ov/v1/d/+/down/#", False, False),
        ("ov/v1/d/#", False, False),
        ("ov/v1/d/+/#", False, False),
        ("ov/v1/d/+/+/#", False, False),
        ("ov/#", False, False),
        ("#", False, False),
        ("+/v1/d/+/up/#", False, False),
        ("$share/g/#", False, False),
        ("$share/g/ov/v1/d/+/down/#", False, False),
        ("$share//ov/v1/d/+/up/#", False, False),  # empty group
        ("$share/g+/ov/v1/d/+/up/#", False, False),
        ("$share/#/ov/v1/d/+/up/#", False, False),
        ("$share/g", False, False),
        ("$share/g/", False, False),
        ("$share/g/$share/h/ov/v1/d/+/up/#", False, False),
        ("$SYS/#", False, False),
        ("$share/g/$SYS/#", False, False),
        ("ov/v1/d/+/up/#/x", False, False),
        ("ov/v1/d/+x/up/#", False, False),
        (f"ov/v1/d/{GW}/up/#", False, False),
        ("", False, False),
    ],
)
def test_gateway_may_subscribe(topic_filter, allowed, allowed_without_share) -> None:
    assert acl.gateway_may_subscribe(topic_filter, gateway_username=GW) is allowed
    assert (
        acl.gateway_may_subscribe(topic_filter, gateway_username=GW, allow_shared=False)
        is allowed_without_share
    )


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+", "a", False),
        ("+", "", False),
        ("+/+", "/x", True),  # empty levels are levels
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/b", "a/b", True),
        ("a/b", "a/b/", False),
        ("a/#/b", "a/x/b", False),  # invalid filter
    ],
)
def test_topic_matches(topic_filter, topic, matches) -> None:
    assert acl.topic_matches(topic_filter, topic) is matches


def test_password_file_lines_and_validation() -> None:
    first, second = hash_secret("one"), hash_secret("two")
    assert render_password_file([("CAB2", second), ("CAB1", first)]) == f"CAB1:{first}\nCAB2:{second}\n"
    assert render_password_file([]) == ""
    for bad in [("CAB:1", first), ("CAB 1", first), ("#CAB1", first), ("", first), ("CAB1\n", first)]:
        with pytest.raises(ValueError):
            render_password_file([bad])
    with pytest.raises(ValueError):
        render_password_file([("CAB1", "plaintext")])
    with pytest.raises(ValueError):
        render_password_file([("CAB1", first), ("CAB1", second)])


def test_acl_file_is_exactly_the_v1_rules() -> None:
    rules = [line for line in render_acl_file(GW).splitlines() if line.strip() and not line.startswith("#")]
    assert rules == [
        "pattern write ov/v1/d/%u/up/ack",
        "pattern write ov/v1/d/%u/up/event",
        "pattern write ov/v1/d/%u/up/hb",
        "pattern write ov/v1/d/%u/up/status",
        "pattern write ov/v1/d/%u/up/telemetry",
        "pattern read ov/v1/d/%u/down/ack",
        "pattern read ov/v1/d/%u/down/cmd",
        f"user {GW}",
        "topic read ov/v1/d/+/up/#",
        "topic write ov/v1/d/+/down/#",
        f"topic deny ov/v1/d/{GW}/#",
    ]
    with pytest.raises(ValueError):
        render_acl_file("gate way")


def test_broker_config() -> None:
    config = render_broker_config(
        port=18883,
        password_path="/etc/openvend/passwords",
        acl_path="/etc/openvend/acl",
        pid_file="/run/openvend/mosquitto.pid",
        persistence_dir="/var/lib/openvend/mosquitto",
    )
    lines = config.splitlines()
    for expected in [
        "per_listener_settings false",
        "allow_anonymous false",
        "password_file /etc/openvend/passwords",
        "acl_file /etc/openvend/acl",
        "pid_file /run/openvend/mosquitto.pid",
        "persistence true",
        "persistence_location /var/lib/openvend/mosquitto/",
        "listener 18883 127.0.0.1",
    ]:
        assert expected in lines
    assert lines.index("per_listener_settings false") < lines.index("listener 18883 127.0.0.1")
    minimal = render_broker_config(port=1883, password_path="p", acl_path="a").splitlines()
    assert "persistence false" in minimal
    assert not any(line.startswith(("pid_file", "user ")) for line in minimal)
    with pytest.raises(ValueError):
        render_broker_config(port=0, password_path="p", acl_path="a")
    with pytest.raises(ValueError):
        render_broker_config(port=1883, password_path="p\nallow_anonymous true", acl_path="a")
