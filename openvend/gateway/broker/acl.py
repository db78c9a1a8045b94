"""Who may publish, subscribe and receive where on the device broker (protocol v1 topics).

Pure functions with no Django import: the embedded broker calls them on every packet, and they are
the executable specification of the Mosquitto ACL file rendered in ``mosquitto.py`` (tests run both
brokers against the same expectations).

The rules:

* A device (username = client id = device code ``C``) publishes only on ``ov/v1/d/C/up/<type>``
  with ``<type>`` one of ``UP_TYPES``, and subscribes only to ``ov/v1/d/C/down/#``,
  ``ov/v1/d/C/down/cmd`` or ``ov/v1/d/C/down/ack``. It receives only ``down/cmd`` and
  ``down/ack`` of its own code, whatever it subscribed to.
* The gateway account subscribes to ``ov/v1/d/+/up/#`` (or any narrower filter), plainly or as a
  shared subscription ``$share/<group>/...``, and publishes on ``ov/v1/d/+/down/#``. Its topics
  follow MQTT filter matching exactly, as Mosquitto's ``topic`` lines do, except that the device
  level never equals the gateway's own username: that name is a well-formed device code, and the
  gateway must not act as (or listen to) a device of that name.
"""

from __future__ import annotations

import re

PREFIX = "ov/v1/d"
UP_TYPES = frozenset({"status", "hb", "telemetry", "event", "ack"})
DOWN_TYPES = frozenset({"cmd", "ack"})
GATEWAY_SUBSCRIBE_FILTER = f"{PREFIX}/+/up/#"
GATEWAY_PUBLISH_FILTER = f"{PREFIX}/+/down/#"
SHARED_PREFIX = "$share/"

# Mirrors devices.models.registry.device_code_validator (kept here so this module stays free of
# Django). ASCII only: a look-alike code in another script must never match a real device's topics.
_DEVICE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{3,31}")
# The MQTT spec caps topics at 65535 UTF-8 bytes.
_MAX_TOPIC_BYTES = 65535


def is_device_username(username: str | None) -> bool:
    """A username that can be a device code. Anything else (wildcards, '/', unicode) never is."""
    return bool(username) and _DEVICE_CODE.fullmatch(username or "") is not None


def _encodable(text: str) -> bool:
    if not text or "\x00" in text:
        return False
    try:
        return len(text.encode("utf-8")) <= _MAX_TOPIC_BYTES
    except UnicodeEncodeError:  # lone surrogates cannot go on the wire
        return False


def is_valid_topic_name(topic: str) -> bool:
    """A topic a PUBLISH may carry: non-empty, no wildcards."""
    return _encodable(topic) and "+" not in topic and "#" not in topic


def is_valid_topic_filter(topic_filter: str) -> bool:
    """A SUBSCRIBE filter: '+' only as a whole level, '#' only as the whole last level."""
    if not _encodable(topic_filter):
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 §4.7 matching of a topic name against a filter."""
    if not is_valid_topic_filter(topic_filter) or not is_valid_topic_name(topic):
        return False
    # [MQTT-4.7.2-1]: filters starting with a wildcard never match '$' topics.
    if topic.startswith("$") and topic_filter[0] in "+#":
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True  # also matches the parent level ("a/#" matches "a")
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


def filter_within(topic_filter: str, allowed: str) -> bool:
    """Whether every topic ``topic_filter`` can match is also matched by ``allowed``."""
    if not is_valid_topic_filter(topic_filter) or not is_valid_topic_filter(allowed):
        return False
    if topic_filter.startswith("$") and allowed[0] in "+#":
        return False
    levels = topic_filter.split("/")
    allowed_levels = allowed.split("/")
    for index, allowed_level in enumerate(allowed_levels):
        if allowed_level == "#":
            return True
        if index >= len(levels):
            return False
        level = levels[index]
        if allowed_level == "+":
            if level == "#":
                return False
            continue
        if level != allowed_level:  # a wildcard here would reach beyond a literal level
            return False
    return len(levels) == len(allowed_levels)


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """``$share/<group>/<filter>`` → ``(group, filter)``; any other filter → ``(None, filter)``.

    A malformed shared form (empty group, wildcard in the group, no filter) returns ``("", "")``
    so that callers refuse it."""
    if not topic_filter.startswith(SHARED_PREFIX):
        return None, topic_filter
    group, separator, inner = topic_filter[len(SHARED_PREFIX) :].partition("/")
    if not group or not separator or not inner or "+" in group or "#" in group:
        return "", ""
    return group, inner


def _device_topic(username: str, direction: str, types: frozenset[str], topic: str) -> bool:
    levels = topic.split("/")
    return (
        len(levels) == 6
        and "/".join(levels[:3]) == PREFIX
        and levels[3] == username
        and levels[4] == direction
        and levels[5] in types
    )


def device_may_publish(username: str | None, topic: str) -> bool:
    return (
        is_device_username(username)
        and is_valid_topic_name(topic)
        and _device_topic(username or "", "up", UP_TYPES, topic)
    )


def device_may_subscribe(username: str | None, topic_filter: str) -> bool:
    return (
        is_device_username(username)
        and is_valid_topic_filter(topic_filter)
        and _device_topic(username or "", "down", DOWN_TYPES | {"#"}, topic_filter)
    )


def device_may_receive(username: str | None, topic: str) -> bool:
    """Delivery check: even through ``down/#`` a device gets only its own ``down/cmd`` and ``down/ack``."""
    return (
        is_device_username(username)
        and is_valid_topic_name(topic)
        and _device_topic(username or "", "down", DOWN_TYPES, topic)
    )


def _names_gateway(topic: str, gateway_username: str) -> bool:
    levels = topic.split("/")
    return bool(gateway_username) and len(levels) > 3 and levels[3] == gateway_username


def gateway_may_publish(topic: str, *, gateway_username: str = "") -> bool:
    return topic_matches(GATEWAY_PUBLISH_FILTER, topic) and not _names_gateway(topic, gateway_username)


def gateway_may_subscribe(
    topic_filter: str, *, gateway_username: str = "", allow_shared: bool = True
) -> bool:
    """The plain filter or ``$share/<group>/`` + filter, within ``ov/v1/d/+/up/#``.

    ``allow_shared=False`` refuses the shared form, for brokers that would take ``$share/...``
    as a literal filter and silently never deliver to it."""
    group, inner = split_shared(topic_filter)
    if group is not None and (not allow_shared or not group):
        return False
    if inner.startswith("$") or _names_gateway(inner, gateway_username):
        return False
    return filter_within(inner, GATEWAY_SUBSCRIBE_FILTER)


def gateway_may_receive(topic: str, *, gateway_username: str = "") -> bool:
    return topic_matches(GATEWAY_SUBSCRIBE_FILTER, topic) and not _names_gateway(topic, gateway_username)
