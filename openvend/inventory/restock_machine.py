"""A restock session's moves, on the same machinery as a shopping session's
(`openvend.core.session_machine`): each move locks the row, is checked against RESTOCK_TRANSITIONS
and appends a RestockEvent with from/to in the same transaction.

    opening ──► open ──► closed ──► completed
       └─────────┴─────────┴──────► cancelled

A door may be reported closed without an "opened" we received (lost, or opened and shut at once),
hence opening → closed. The services in `restock_services` decide which moves a request may make and
refuse the others with their own messages; the table is the last word."""

from __future__ import annotations

from openvend.core.session_machine import InvalidTransition, SessionMachine
from openvend.inventory.choices import RestockState
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import RestockEvent, RestockSession

R = RestockState
RESTOCK_TRANSITIONS: dict[str, frozenset[str]] = {
    R.OPENING: frozenset({R.OPEN, R.CLOSED, R.CANCELLED}),
    R.OPEN: frozenset({R.CLOSED, R.CANCELLED}),
    R.CLOSED: frozenset({R.COMPLETED, R.CANCELLED}),
    R.COMPLETED: frozenset(),
    R.CANCELLED: frozenset(),
}
RESTOCK_FINAL_STATES = frozenset({R.COMPLETED, R.CANCELLED})


def _refuse(current: str, target: str) -> InvalidTransition:
    return InvalidTransition(current, target, code=InventoryErrorCode.BAD_TRANSITION)


# No `ended_field`: a completed session stamps `completed_at` through `changes`; a cancelled one
# keeps its end in its timeline.
RESTOCK_MACHINE: SessionMachine[RestockSession, RestockEvent] = SessionMachine(
    model=RestockSession,
    event_model=RestockEvent,
    transitions=RESTOCK_TRANSITIONS,
    final_states=RESTOCK_FINAL_STATES,
    refuse=_refuse,
)
