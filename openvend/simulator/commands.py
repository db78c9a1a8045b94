"""What the firmware does with one command (docs/device-protocol.md §7.3): read it, check it, act on
the cabinet, and say what to answer.

Pure Python; the device calls these under its lock, keeps the journal, publishes the outcome's
events and ack, and runs the follow-up (the door cycle, a reboot) on its own timer thread.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from openvend.gateway import protocol
from openvend.simulator.behaviour import DOOR, Cabinet, Event, Refusal

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@dataclass
class Outcome:
    result: str
    code: str | None = None
    message: str | None = None
    data: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)  # published before the ack
    follow_up: str | None = None  # "door_cycle" or "reboot", only after an ok

    def ack_body(self, command_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"cmd_id": command_id, "result": self.result}
        if self.code:
            body["code"] = self.code
        if self.message:
            body["message"] = self.message[:256]
        if self.data is not None:
            body["data"] = self.data
        return body


def refuse(code: str, message: str) -> Outcome:
    return Outcome("rejected", code, message)


def expired() -> Outcome:
    return Outcome("expired", "E_EXPIRED", "received after its expiry")


def read(payload: bytes) -> tuple[str, dict[str, Any]] | None:
    """(id, raw message) when the payload is a JSON object with a valid command id; None when there
    is nobody to answer."""
    try:
        raw = json.loads(payload)
    except ValueError:
        return None
    command_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(command_id, str) or _UUID4.fullmatch(command_id) is None:
        return None
    return command_id, raw


def has_timestamps(raw: dict[str, Any]) -> bool:
    """Whether expiry can be judged before the rest of the command is checked (§7.3 step 3)."""
    return all(type(raw.get(key)) is int and 0 <= raw[key] <= protocol.MAX_SEQ for key in ("ts", "expires"))


def validate(raw: dict[str, Any], payload: bytes) -> dict[str, Any] | Outcome:
    """The decoded command, or the refusal that answers it (§7.3 step 4)."""
    if raw.get("v") != protocol.PROTOCOL_VERSION:
        return refuse("E_NOT_SUPPORTED", f"protocol version {str(raw.get('v'))[:16]} is not supported")
    if raw.get("kind") not in protocol.COMMAND_KINDS:
        return refuse("E_UNKNOWN_COMMAND", f"unknown command {str(raw.get('kind'))[:64]!r}")
    try:
        return protocol.decode_command(payload)
    except protocol.ProtocolError as exc:
        return refuse("E_BAD_PARAMS", exc.detail)


def execute(cabinet: Cabinet, command: dict[str, Any], *, server_now_ms: int) -> Outcome:
    """Run one valid, unexpired, first-seen command against the cabinet."""
    kind, params = command["kind"], command["params"]
    try:
        if kind == "open_door":
            if params["door"] != DOOR:
                return refuse("E_BAD_PARAMS", f"no door {params['door']}; this cabinet has door {DOOR} only")
            try:
                events = cabinet.release(session=command["id"])
            except Refusal as refusal:
                if refusal.code != "E_HARDWARE":
                    raise
                fault = Event("lock_fault", None, {"door": DOOR, "message": refusal.message})
                return Outcome(refusal.result, refusal.code, refusal.message, events=[fault])
            return Outcome("ok", events=events, follow_up="door_cycle")
        if kind == "lock":
            cabinet.take_out_of_service()
            return Outcome("ok")
        if kind == "unlock":
            cabinet.return_to_service()
            return Outcome("ok")
        if kind == "reboot":
            cabinet.check_idle()
            return Outcome("ok", follow_up="reboot")
        if kind == "self_test":
            cabinet.check_idle()
            report = cabinet.self_test()
            failing = [part for part, state in report.items() if state == "fault"]
            if failing:
                return Outcome("error", "E_HARDWARE", "failing: " + ", ".join(failing), data=report)
            return Outcome("ok", data=report)
        if kind == "set_temperature":
            cabinet.target_c = float(params["target_c"])
            return Outcome("ok")
        if kind == "set_lights":
            cabinet.lights = list(params["schedule"])
            return Outcome("ok")
        if kind == "set_foreign_object_lock":
            cabinet.foreign_object_lock = bool(params["enabled"])
            return Outcome("ok")
        if kind == "lock_on_expiry":
            cabinet.set_expiry(int(params["expires_at"]), server_now_ms)
            return Outcome("ok")
    except Refusal as refusal:
        return Outcome(refusal.result, refusal.code, refusal.message)
    return refuse("E_UNKNOWN_COMMAND", f"{kind} is not implemented by this firmware")
