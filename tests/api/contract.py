"""The reusable API contract every tenant resource passes (NetBox's APIViewTestCases in spirit).

For each preset role it checks list, retrieve, create, update and delete against an explicit
expected-permission table: allowed actions succeed with exact effects, forbidden ones answer 403
and change nothing. Another tenant's object answers 404 to every role that may act at all, exactly
like a missing id; anonymous callers get 401.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import pytest
from django.db import models

from openvend.audit.models import AuditLogEntry
from tests.conftest import client_for
from tests.world import MERCHANT_ROLES, World

ACTIONS = ("view", "add", "change", "delete")


class ReadContract:
    url: ClassVar[str]
    model: ClassVar[type[models.Model]]
    # role code -> actions it may take on this resource (the preset roles' specification)
    expected: ClassVar[dict[str, set[str]]]

    # Subclasses describe the resource.
    def make(self, world: World) -> models.Model:
        raise NotImplementedError

    def create_payload(self, world: World) -> dict[str, Any]:
        raise NotImplementedError

    def update_payload(self, world: World) -> dict[str, Any]:
        raise NotImplementedError

    # Helpers
    def detail(self, obj: models.Model) -> str:
        return f"{self.url}{obj.pk}/"

    def allowed(self, role: str, action: str) -> bool:
        return action in self.expected.get(role, set())

    @staticmethod
    def unique() -> str:
        return uuid.uuid4().hex[:8]

    # The contract
    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_list(self, role: str, world_a: World, world_b: World) -> None:
        mine, theirs = self.make(world_a), self.make(world_b)
        response = client_for(world_a.user(role)).get(self.url, {"page_size": 500})
        if not self.allowed(role, "view"):
            assert response.status_code == 403, response.content
            assert response.json()["error"]["code"] == "core.permission_denied"
            return
        assert response.status_code == 200, response.content
        ids = {row["id"] for row in response.json()["results"]}
        assert mine.pk in ids
        assert theirs.pk not in ids

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_retrieve(self, role: str, world_a: World, world_b: World) -> None:
        mine, theirs = self.make(world_a), self.make(world_b)
        client = client_for(world_a.user(role))
        response = client.get(self.detail(mine))
        if not self.allowed(role, "view"):
            assert response.status_code == 403
            return
        assert response.status_code == 200, response.content
        assert response.json()["id"] == mine.pk
        other = client.get(self.detail(theirs))
        missing = client.get(f"{self.url}987654321/")
        assert other.status_code == missing.status_code == 404
        assert (
            other.json()
            == missing.json()
            == {
                "error": {"code": "core.not_found", "message": other.json()["error"]["message"], "fields": {}}
            }
        )

    def test_anonymous_is_401(self, world_a: World, api: Any) -> None:
        obj = self.make(world_a)
        for response in (api.get(self.url), api.get(self.detail(obj))):
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "core.not_authenticated"


class ResourceContract(ReadContract):
    """The read contract plus create, update and delete."""

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_create(self, role: str, world_a: World) -> None:
        client = client_for(world_a.user(role))
        before = self.model._default_manager.count()
        audit_before = AuditLogEntry.objects.count()
        response = client.post(self.url, self.create_payload(world_a), format="json")
        if not self.allowed(role, "add"):
            assert response.status_code == 403, response.content
            assert self.model._default_manager.count() == before
            assert AuditLogEntry.objects.count() == audit_before
            return
        assert response.status_code == 201, response.content
        assert self.model._default_manager.count() == before + 1
        created = self.model._default_manager.get(pk=response.json()["id"])
        entry = AuditLogEntry.objects.filter(action="create", object_type=created._meta.label_lower).latest(
            "id"
        )
        assert entry.object_id == str(created.pk)
        assert entry.actor_id == world_a.users[role].pk
        assert entry.channel == "api"
        assert entry.merchant_id == world_a.merchant.pk

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_update(self, role: str, world_a: World, world_b: World) -> None:
        mine, theirs = self.make(world_a), self.make(world_b)
        client = client_for(world_a.user(role))
        payload = self.update_payload(world_a)
        response = client.patch(self.detail(mine), payload, format="json")
        if not self.allowed(role, "change"):
            assert response.status_code == 403, response.content
            return
        assert response.status_code == 200, response.content
        mine.refresh_from_db()
        for field, value in payload.items():
            assert response.json()[field] == value
        entry = AuditLogEntry.objects.filter(action="update", object_id=str(mine.pk)).latest("id")
        assert set(payload) <= set(entry.changed_fields)
        for field, value in payload.items():
            assert entry.after[field] == value
        # Another tenant's object: 404, and it is left exactly as it was.
        snapshot = self.model._default_manager.filter(pk=theirs.pk).values().get()
        other = client.patch(self.detail(theirs), payload, format="json")
        assert other.status_code == 404
        assert self.model._default_manager.filter(pk=theirs.pk).values().get() == snapshot

    @pytest.mark.parametrize("role", MERCHANT_ROLES)
    def test_delete(self, role: str, world_a: World, world_b: World) -> None:
        mine, theirs = self.make(world_a), self.make(world_b)
        client = client_for(world_a.user(role))
        if not self.allowed(role, "delete"):
            assert client.delete(self.detail(mine)).status_code == 403
            assert self.model._default_manager.filter(pk=mine.pk).exists()
            return
        assert client.delete(self.detail(theirs)).status_code == 404
        assert self.model._default_manager.filter(pk=theirs.pk).exists()
        response = client.delete(self.detail(mine))
        assert response.status_code == 204, response.content
        assert not self.model._default_manager.filter(pk=mine.pk).exists()
        entry = AuditLogEntry.objects.filter(action="delete", object_id=str(mine.pk)).latest("id")
        assert entry.before["id"] == mine.pk
        assert entry.after is None
