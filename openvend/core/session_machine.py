"""Sessions as persisted state machines, each with its own append-only timeline: a shopper's visit
(`openvend.shopping`) and a replenisher's restock visit (`openvend.inventory`) move the same way.

A move locks the session row, checks it against the machine's table, writes the new state (and any
`changes`, such as the time the door closed) and appends an event with from/to — all in one
transaction. Moving to the state the session is already in writes nothing and answers False, so a
device that repeats an event is harmless; a move the table does not allow raises InvalidTransition
and writes nothing either.

Conventions the sessions share: the row has `state` and `merchant_id`; the event model has
`merchant`, `session`, `kind`, `from_state`, `to_state` and `detail`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.core.errors import ConflictError

BAD_TRANSITION = "core.bad_transition"

SessionT = TypeVar("SessionT", bound=models.Model)
EventT = TypeVar("EventT", bound=models.Model)


class InvalidTransition(ConflictError):
    """A move the session's state machine does not allow. Nothing was written."""

    def __init__(
        self, current: str, target: str, *, code: StrEnum | str = BAD_TRANSITION, message: str | None = None
    ) -> None:
        if message is None:
            message = _("A session that is %(current)s cannot become %(target)s.") % {
                "current": current,
                "target": target,
            }
        super().__init__(code, message)
        self.current = current
        self.target = target


@dataclass(frozen=True)
class SessionMachine(Generic[SessionT, EventT]):
    """One kind of session: its model, its timeline's model and which moves it allows.

    `ended_field`, when given, is stamped with the current time on reaching a final state unless the
    caller's `changes` set it. `refuse` builds the error for an illegal move, so that each app keeps its
    own error code (and message) while every such error is an InvalidTransition."""

    model: type[SessionT]
    event_model: type[EventT]
    transitions: Mapping[str, frozenset[str]]
    final_states: frozenset[str]
    ended_field: str | None = None
    refuse: Callable[[str, str], InvalidTransition] = InvalidTransition

    def record(
        self,
        session: SessionT,
        kind: str,
        detail: dict[str, Any] | None = None,
        *,
        from_state: str = "",
        to_state: str = "",
    ) -> EventT:
        """Append one event to the session's timeline, for a happening that is not a move (from/to
        stay empty) or for the session's first state (to only)."""
        event: EventT = self.event_model._default_manager.create(
            merchant_id=session.merchant_id,  # type: ignore[attr-defined]
            session=session,
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            detail=detail or {},
        )
        return event

    def transition(
        self,
        session: SessionT,
        to_state: str,
        kind: str,
        detail: dict[str, Any] | None = None,
        *,
        changes: dict[str, Any] | None = None,
        locked: bool = False,
    ) -> bool:
        """Move `session` to `to_state`, recording why (`kind`, `detail`). False when it already was
        there (nothing written). The caller's instance gets the written fields. `locked`: the caller
        read `session` with select_for_update in the transaction it is still in, so the instance is
        current and the row is not read again."""
        fields = dict(changes or {})
        fields["state"] = to_state
        # Inside the caller's transaction without a savepoint of its own (two statements a move): a
        # refusal is raised after the block, having written nothing, so that transaction stays usable.
        with transaction.atomic(savepoint=False):
            row: SessionT | None = session
            if not locked:
                row = self.model._default_manager.select_for_update().filter(pk=session.pk).first()
            current = "" if row is None else str(row.state)  # type: ignore[attr-defined]
            moves = current != to_state and to_state in self.transitions.get(current, frozenset())
            if row is not None and moves:
                self._write(row, current, kind, detail, fields)
        if row is None:
            missing = self.model.DoesNotExist  # type: ignore[attr-defined]
            raise missing(f"{self.model.__name__} {session.pk} does not exist")
        if current == to_state:
            session.state = current  # type: ignore[attr-defined]
            return False
        if not moves:
            raise self.refuse(current, to_state)
        for name in [*fields, "updated_at"]:
            setattr(session, name, getattr(row, name))
        return True

    def _write(
        self, locked: SessionT, current: str, kind: str, detail: dict[str, Any] | None, fields: dict[str, Any]
    ) -> None:
        to_state = fields["state"]
        if self.ended_field and to_state in self.final_states:
            fields.setdefault(self.ended_field, timezone.now())
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*fields, "updated_at"])
        self.record(locked, kind, detail, from_state=current, to_state=to_state)
