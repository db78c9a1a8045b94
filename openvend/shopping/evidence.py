"""Whether a closed visit's evidence is all in before it is weighed.

Several gateways share the device traffic (a shared subscription), so one cabinet's messages can be
committed out of order: a weight change may still be in another gateway's batch when the door_closed
that follows it has committed and the visit is being settled. Weighing then would charge for less
than the shopper took.

A device numbers every message it sends (protocol §4.2), so the visit's messages are those after the
last seq the cloud had applied when the visit started (`start_seq`) and before the door_closed
(`closed_seq`); the evidence is complete when every one of them is stored. Settling waits for that,
but not for ever: some numbers never arrive (a QoS 0 heartbeat lost on the way, the seqs a device
reserved and skipped after a reboot, a message refused as malformed), and events — the only
messages that carry evidence — are replayed from the device's outbox until stored, so past
`evidence_wait()` after the close the visit is settled with what is there and the gap is noted on its
timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from openvend.shopping.choices import EventKind
from openvend.shopping.models import ShoppingEvent, ShoppingSession

DEFAULT_EVIDENCE_WAIT_S = 5.0
# How soon to look again while messages are missing: soon at first (another gateway's batch commits
# within milliseconds), then less often (a number that will never come).
FIRST_RETRY_S = 0.05
LAST_RETRY_S = 1.0


class EvidencePending(Exception):
    """The visit's messages are not all stored yet: settle it again in `retry_in_s` seconds."""

    def __init__(self, session_id: int, missing: int, retry_in_s: float) -> None:
        super().__init__(f"session {session_id}: {missing} of the device's messages not stored yet")
        self.session_id = session_id
        self.missing = missing
        self.retry_in_s = retry_in_s


def evidence_wait() -> timedelta:
    """How long after the door closed a visit waits for its missing messages."""
    return timedelta(seconds=float(getattr(settings, "SHOPPING_EVIDENCE_WAIT_S", DEFAULT_EVIDENCE_WAIT_S)))


def missing_messages(session: ShoppingSession) -> int:
    """How many of the visit's sequence numbers have no stored message (0 when it is not known which
    numbers are the visit's: a visit closed by the clock, or started before any report)."""
    from openvend.devices.models import DeviceMessage

    if session.start_seq is None or session.closed_seq is None:
        return 0
    expected = session.closed_seq - session.start_seq - 1
    if expected <= 0:
        return 0
    stored = DeviceMessage.objects.filter(
        device_id=session.device_id, seq__gt=session.start_seq, seq__lt=session.closed_seq
    ).count()
    return max(0, expected - stored)


def evidence_check(session: ShoppingSession, now: datetime | None = None) -> int:
    """The number of the visit's messages still missing once it may be settled (0: all in).

    Raises EvidencePending while some are missing and the wait after the close has not run out."""
    missing = missing_messages(session)
    if not missing:
        return 0
    now = now or timezone.now()
    closed = session.closed_at or session.updated_at
    if now >= closed + evidence_wait():
        return missing
    waited = (now - closed).total_seconds()
    raise EvidencePending(session.pk, missing, min(LAST_RETRY_S, max(FIRST_RETRY_S, waited / 2)))


def evidence_gap_record(session: ShoppingSession, missing: int) -> None:
    """Note on the timeline (once) that the visit was weighed without some of its device's messages."""
    if session.events.filter(kind=EventKind.EVIDENCE_GAP).exists():
        return  # a semi-automatic visit is weighed again until its shopper's checkout deadline
    ShoppingEvent.objects.create(
        merchant_id=session.merchant_id,
        session=session,
        kind=EventKind.EVIDENCE_GAP,
        detail={"missing": missing, "after_seq": session.start_seq, "before_seq": session.closed_seq},
    )
