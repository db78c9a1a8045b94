"""Photos and video clips of a visit: a cabinet camera uploads each file itself and reports where it
is (device protocol event `media_captured`); the link is kept on the shopping session as evidence.

Uploads finish after the door has shut, often after the order was settled or held for review, so a
link is attached to its session in any state. The gateway calls this inside its batch transaction:
anything that cannot be attached answers None and never raises.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from openvend.shopping.choices import EventKind, MediaKind
from openvend.shopping.models import SessionMedia, ShoppingSession
from openvend.shopping.services import MACHINE

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def machine_time(ms: Any) -> datetime | None:
    """A device's ms timestamp as a datetime; None when it is not one or no date can hold it."""
    if not isinstance(ms, int) or isinstance(ms, bool):
        return None
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return None


def _session_of(device: Any, session_key: str) -> ShoppingSession | None:
    """The device's shopping session started by the open-door command `session_key`, in any state."""
    try:
        command_id = uuid.UUID(str(session_key))
    except ValueError:
        return None
    found: ShoppingSession | None = ShoppingSession.objects.filter(
        device_id=device.pk, command_id=command_id
    ).first()
    return found


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def session_media_attach(
    *, device: Any, session_key: str, detail: dict[str, Any], received_at: datetime
) -> SessionMedia | None:
    """Keep the link to one uploaded photo or clip on the shopping session it belongs to (the one whose
    open-door command id is `session_key`, on this device) and note it on the session's timeline.

    None, with nothing written, for a session that is not this device's shopping session (a restock,
    an unknown id), for a link the session already has (a replay, a repeated report) and for a detail
    that is not a valid media report."""
    session = _session_of(device, session_key)
    if session is None:
        return None
    camera, kind, url = _optional_int(detail.get("camera")), detail.get("kind"), detail.get("url")
    if camera is None or not isinstance(kind, str) or not isinstance(url, str):
        return None  # not a media report at all (the protocol's schema lets none of these through)
    if SessionMedia.objects.filter(session=session, url=url).exists():
        return None
    media = SessionMedia(
        merchant_id=session.merchant_id,
        session=session,
        camera=camera,
        kind=kind,
        url=url,
        captured_at=machine_time(detail.get("captured_at")),
        received_at=received_at,
        sha256=detail.get("sha256") or "",
        size_bytes=_optional_int(detail.get("bytes")),
        duration_ms=_optional_int(detail.get("duration_ms")) if kind == MediaKind.VIDEO else None,
    )
    try:
        # The unique check runs below, as an insert: two gateways may store the same link at once.
        media.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        logger.warning(
            "media report not attached", extra={"session": session.pk, "fields": sorted(exc.message_dict)}
        )
        return None
    try:
        with transaction.atomic():
            media.save()
            MACHINE.record(
                session,
                EventKind.MEDIA_CAPTURED,
                {"media": media.pk, "camera": media.camera, "kind": media.kind},
            )
    except IntegrityError:  # the other gateway's insert won
        return None
    return media
