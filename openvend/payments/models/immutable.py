from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from openvend.core.models import RestrictedQuerySet


class ImmutableError(Exception):
    """Raised on any attempt to edit or delete an append-only row (payment events, wallet entries)."""


class AppendOnlyQuerySet(RestrictedQuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableError("This log is append-only.")

    def delete(self) -> NoReturn:
        raise ImmutableError("This log is append-only.")


class AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError("This log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableError("This log is append-only.")
