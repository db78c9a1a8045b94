"""Audit rows, and the audited create/update/delete that simple tenant objects share.

Each write re-checks, inside its transaction, that the actor may still see the row it
wrote under the action it used (NetBox's pattern): a write that would leave the actor's
scope is rolled back with 403 rather than letting data escape their view.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import ProtectedError
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _

from openvend.audit import context
from openvend.audit.choices import AuditAction
from openvend.audit.models import AuditLogEntry
from openvend.core.errors import ConflictError, CoreErrorCode

REDACTED = "***"
SECRET_FIELDS = frozenset({"password", "key_hash", "secret_hash", "webhook_secret"})
SKIPPED_FIELDS = frozenset({"created_at", "updated_at", "last_login"})


def _plain(value: Any) -> Any:
    if isinstance(value, FieldFile):  # images and uploads: the stored name, "" when empty
        return value.name or ""
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return value


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's fields as JSON-ready values: FKs as ids, M2Ms as sorted id lists, secrets redacted."""
    data: dict[str, Any] = {}
    opts = instance._meta
    for field in opts.concrete_fields:
        if field.name in SKIPPED_FIELDS:
            continue
        value = getattr(instance, field.attname)
        data[field.name] = REDACTED if field.name in SECRET_FIELDS and value else _plain(value)
    if instance.pk is not None:
        for m2m in opts.many_to_many:
            data[m2m.name] = sorted(getattr(instance, m2m.name).values_list("pk", flat=True))
    return data


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    keys = set(before or {}) | set(after or {})
    return sorted(k for k in keys if (before or {}).get(k) != (after or {}).get(k))


def _merchant_id_of(instance: models.Model | None) -> int | None:
    if instance is None:
        return None
    if instance._meta.label_lower == "merchants.merchant":
        return instance.pk
    return getattr(instance, "merchant_id", None)


def audit_record(
    *,
    actor: Any,
    action: str,
    instance: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    merchant_id: int | None = None,
    object_repr: str = "",
    message: str = "",
    username: str = "",
) -> AuditLogEntry:
    ctx = context.current()
    real_actor = actor if actor is not None and getattr(actor, "pk", None) else None
    if merchant_id is None:
        merchant_id = _merchant_id_of(instance)
    if merchant_id is None and real_actor is not None:
        merchant_id = real_actor.merchant_id
    return AuditLogEntry.objects.create(
        merchant_id=merchant_id,
        actor=real_actor,
        actor_username=username or (real_actor.get_username() if real_actor else ""),
        action=action,
        object_type=instance._meta.label_lower if instance is not None else "",
        object_id=str(instance.pk) if instance is not None and instance.pk is not None else "",
        object_repr=(object_repr or (str(instance) if instance is not None else ""))[:200],
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        changed_fields=diff(before, after) if action == AuditAction.UPDATE or (before and after) else [],
        channel=ctx.channel,
        ip_address=ctx.ip_address,
        message=message[:200],
    )


def ensure_still_visible(*, actor: Any, instance: models.Model, action: str) -> None:
    if actor is None:
        return
    manager: Any = type(instance)._default_manager
    if not manager.restrict(actor, action).filter(pk=instance.pk).exists():
        raise PermissionDenied(_("This change would put the object outside what you may manage."))


def _set_m2m(instance: models.Model, m2m: Mapping[str, Iterable[Any]] | None) -> None:
    for name, values in (m2m or {}).items():
        getattr(instance, name).set(values)


@transaction.atomic
def audited_create(
    *, actor: Any, instance: models.Model, m2m: Mapping[str, Iterable[Any]] | None = None
) -> models.Model:
    instance.full_clean()
    instance.save()
    _set_m2m(instance, m2m)
    ensure_still_visible(actor=actor, instance=instance, action="add")
    audit_record(actor=actor, action=AuditAction.CREATE, instance=instance, after=snapshot(instance))
    return instance


@transaction.atomic
def audited_update(
    *,
    actor: Any,
    instance: models.Model,
    data: Mapping[str, Any],
    m2m: Mapping[str, Iterable[Any]] | None = None,
) -> models.Model:
    """Apply `data` to `instance` and save; an audit row is written only when something changed."""
    before = snapshot(type(instance)._default_manager.select_for_update().get(pk=instance.pk))
    for field, value in data.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    _set_m2m(instance, m2m)
    ensure_still_visible(actor=actor, instance=instance, action="change")
    after = snapshot(instance)
    if diff(before, after):
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=instance, before=before, after=after)
    return instance


@transaction.atomic
def audited_delete(*, actor: Any, instance: models.Model) -> None:
    audit_record(actor=actor, action=AuditAction.DELETE, instance=instance, before=snapshot(instance))
    try:
        instance.delete()
    except ProtectedError as exc:
        raise ConflictError(
            CoreErrorCode.IN_USE,
            _("%(object)s is still in use by other records and cannot be deleted.") % {"object": instance},
        ) from exc
