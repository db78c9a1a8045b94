from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from openvend.core.errors import ConflictError, OpenVendError
from openvend.core.session_machine import InvalidTransition as SessionInvalidTransition

if TYPE_CHECKING:
    from openvend.shopping.preconditions import Failure


class ShoppingErrorCode(StrEnum):
    DEVICE_BUSY = "shopping.device_busy"
    PRECONDITIONS = "shopping.preconditions_failed"
    UNKNOWN_DEVICE = "shopping.unknown_device"
    UNKNOWN_FLOW = "shopping.unknown_flow"
    BAD_TRANSITION = "shopping.bad_transition"


class DeviceBusy(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            ShoppingErrorCode.DEVICE_BUSY,
            _("This device is busy: someone else is using it. Please try again in a moment."),
        )


class PreconditionsFailed(OpenVendError):
    """Every precondition that failed, each with its message and way forward, not just the first."""

    def __init__(self, failures: list[Failure]) -> None:
        super().__init__(
            ShoppingErrorCode.PRECONDITIONS,
            " ".join(failure.message for failure in failures),
            fields={"preconditions": [failure.message for failure in failures]},
        )
        self.failures = failures


class InvalidTransition(SessionInvalidTransition):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(
            current,
            target,
            code=ShoppingErrorCode.BAD_TRANSITION,
            message=_("A shopping session that is %(current)s cannot become %(target)s.")
            % {"current": current, "target": target},
        )
