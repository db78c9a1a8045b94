"""The org-unit tree and data scopes: who sees which rows."""

from __future__ import annotations

import pytest

from openvend.accounts import services as accounts
from openvend.accounts.models import User
from openvend.core.errors import OpenVendError
from openvend.merchants import services
from openvend.merchants.models import OrgUnit, Site
from tests.conftest import client_for


def _site_codes(user) -> list[str]:
    return sorted(Site.objects.restrict(user, "view").values_list("code", flat=True))


def test_scopes_by_role(world_a, world_b) -> None:
    assert _site_codes(world_a.user("merchant_admin")) == ["sh-1", "sh-2", "sz-1"]
    # Operations and store managers live in 上海徐汇: they see its sites only.
    assert _site_codes(world_a.user("operations")) == ["sh-1", "sh-2"]
    assert _site_codes(world_a.user("store_manager")) == ["sh-1", "sh-2"]
    # Finance has no site menu limits but is confined to its merchant.
    assert _site_codes(world_a.user("finance")) == ["sh-1", "sh-2", "sz-1"]


def test_role_with_listed_sites_and_union_of_roles(world_a) -> None:
    night = accounts.role_create(
        actor=None,
        merchant=world_a.merchant,
        code="night",
        name="夜班",
        data_scope="sites",
        permissions=["merchants.view_site", "menu.sites"],
        sites=[world_a.sites["sz-1"]],
    )
    user = accounts.user_create(
        actor=None, merchant=world_a.merchant, username="night-1", password="Correct-Horse-42", roles=[night]
    )
    assert _site_codes(User.objects.get(pk=user.pk)) == ["sz-1"]
    accounts.user_update(
        actor=None, user=user, data={"org_unit": world_a.shanghai}, roles=[night, world_a.role("replenisher")]
    )
    assert _site_codes(User.objects.get(pk=user.pk)) == ["sh-1", "sh-2", "sz-1"]


def test_moving_an_org_unit_moves_its_subtree(world_a) -> None:
    team = services.org_unit_create(
        actor=None, merchant=world_a.merchant, parent=world_a.shanghai, name="一组"
    )
    services.org_unit_update(actor=None, unit=world_a.shanghai, parent=world_a.south)
    world_a.shanghai.refresh_from_db()
    team.refresh_from_db()
    assert world_a.shanghai.path == f"{world_a.south.path}{world_a.shanghai.pk}/"
    assert team.path == f"{world_a.shanghai.path}{team.pk}/"
    # Operations scoped to 上海徐汇 still see exactly its sites after the move.
    assert _site_codes(world_a.user("operations")) == ["sh-1", "sh-2"]


def test_an_org_unit_cannot_move_under_its_own_descendant(world_a) -> None:
    with pytest.raises(OpenVendError) as exc:
        services.org_unit_update(actor=None, unit=world_a.east, parent=world_a.shanghai)
    assert exc.value.code == "merchants.org_unit_cycle"
    world_a.east.refresh_from_db()
    assert world_a.east.parent_id == world_a.root.pk


def test_scoped_user_cannot_write_outside_their_scope(world_a) -> None:
    client = client_for(world_a.user("operations"))
    before = Site.objects.count()
    # An org unit outside the scope reads as unknown...
    outside = client.post(
        "/api/v1/sites/",
        {
            "code": "x-1",
            "name": "X",
            "org_unit": world_a.south.pk,
            "address": "a",
            "latitude": "1",
            "longitude": "1",
        },
        format="json",
    )
    assert outside.status_code == 400
    assert list(outside.json()["error"]["fields"]) == ["org_unit"]
    # ...and a site that would land outside the scope is rolled back with 403.
    unscoped = client.post(
        "/api/v1/sites/",
        {"code": "x-2", "name": "X", "address": "a", "latitude": "1", "longitude": "1"},
        format="json",
    )
    assert unscoped.status_code == 403
    assert Site.objects.count() == before


def test_other_tenant_references_are_refused(world_a, world_b) -> None:
    client = client_for(world_a.user("merchant_admin"))
    response = client.post(
        "/api/v1/sites/",
        {
            "code": "x-3",
            "name": "X",
            "org_unit": world_b.root.pk,
            "address": "a",
            "latitude": "1",
            "longitude": "1",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "org_unit" in response.json()["error"]["fields"]
    with pytest.raises(OpenVendError) as exc:
        services.site_create(
            actor=None,
            merchant=world_a.merchant,
            code="x",
            name="x",
            org_unit=world_b.root,
            address="a",
            latitude=1,
            longitude=1,
        )
    assert exc.value.code == "merchants.other_tenant_reference"


def test_bad_coordinates_get_a_clear_error_and_save_nothing(world_a) -> None:
    client = client_for(world_a.user("merchant_admin"))
    before = Site.objects.count()
    response = client.post(
        "/api/v1/sites/",
        {"code": "bad", "name": "X", "address": "a", "latitude": "123.5", "longitude": "500"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"latitude", "longitude"}
    assert Site.objects.count() == before


def test_org_unit_in_use_cannot_be_deleted(world_a) -> None:
    response = client_for(world_a.user("merchant_admin")).delete(f"/api/v1/org-units/{world_a.shanghai.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "core.in_use"
    assert OrgUnit.objects.filter(pk=world_a.shanghai.pk).exists()
