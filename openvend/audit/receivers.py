"""Logins and logouts become audit rows. Recording only: no business decision is taken here."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record


def _merchant_id_for_username(username: str) -> int | None:
    return get_user_model().objects.filter(username=username).values_list("merchant_id", flat=True).first()


@receiver(user_logged_in, dispatch_uid="openvend_audit_login")
def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action=AuditAction.LOGIN, instance=user)


@receiver(user_logged_out, dispatch_uid="openvend_audit_logout")
def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action=AuditAction.LOGOUT, instance=user)


@receiver(user_login_failed, dispatch_uid="openvend_audit_login_failed")
def _on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        username=username,
        merchant_id=_merchant_id_for_username(username),
        object_repr=username,
    )


@receiver(user_locked_out, dispatch_uid="openvend_audit_locked_out")
def _on_locked_out(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    name = (username or "")[:150]
    audit_record(
        actor=None,
        action=AuditAction.LOCKED_OUT,
        username=name,
        merchant_id=_merchant_id_for_username(name),
        object_repr=name,
    )
