"""Planograms, planogram slots and vending tracks through the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext

from openvend.audit.models import AuditLogEntry
from openvend.devices.models import Device, DeviceRegistration
from openvend.inventory.models import Planogram, PlanogramSlot, Track
from openvend.inventory.planogram_services import planogram_draft_create, planogram_slot_add
from openvend.inventory.recognition_export import recognition_planogram
from openvend.inventory.track_services import track_create, tracks_generate
from tests.api.contract import ResourceContract
from tests.conftest import client_for
from tests.devices.factories import activated_device, gravity_kind
from tests.inventory.planogram_factories import product, vending_kind, vending_machine
from tests.world import World

CRUD = {"view", "add", "change", "delete"}


def _cabinet(world: World, code: str) -> Any:
    device, _secret = activated_device(world, code)
    return device


def _unaudited_device(world: World, code: str, kind: Any) -> Device:
    """A device for a create payload: the contract counts audit rows around the create itself."""
    registration = DeviceRegistration.objects.create(code=code, kind=kind)
    return Device.objects.create(
        merchant=world.merchant,
        registration=registration,
        code=code,
        kind=kind,
        name=code,
        site=world.sites["sh-1"],
    )


class TestPlanograms(ResourceContract):
    url = "/api/v1/planograms/"
    model = Planogram
    expected = {
        "merchant_admin": CRUD,
        "operations": CRUD,
        "replenisher": {"view"},
        "store_manager": {"view"},
    }

    def make(self, world: World) -> Planogram:
        device = _cabinet(world, f"PC-{self.unique()}")
        return planogram_draft_create(actor=None, device=device, note="contract")

    def create_payload(self, world: World) -> dict[str, Any]:
        device = _unaudited_device(world, f"PN-{self.unique()}", gravity_kind())
        return {"device": device.pk, "note": "summer layout"}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"note": "夏季陈列"}


class TestTracks(ResourceContract):
    url = "/api/v1/tracks/"
    model = Track
    expected = {
        "merchant_admin": CRUD,
        "operations": CRUD,
        "replenisher": {"view"},
        "store_manager": {"view", "add", "change"},
    }

    def make(self, world: World) -> Track:
        device = vending_machine(world, f"TC-{self.unique()}")
        return track_create(actor=None, device=device, number=1)

    def create_payload(self, world: World) -> dict[str, Any]:
        device = _unaudited_device(world, f"TN-{self.unique()}", vending_kind())
        return {"device": device.pk, "number": 4, "price_fen": 350, "capacity": 8, "par_level": 6}

    def update_payload(self, world: World) -> dict[str, Any]:
        return {"price_fen": 450, "capacity": 12, "par_level": 12, "enabled": False}


# ------------------------------------------------------------------------------ planogram actions


@pytest.fixture
def draft(world_a):
    device = _cabinet(world_a, "PLAN-API1")
    draft = planogram_draft_create(actor=None, device=device)
    bar_a, bar_b = product(world_a, "BAR-A", "45.00", "1.00"), product(world_a, "BAR-B", "46.00", "1.00")
    planogram_slot_add(
        actor=None, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_a, capacity=5, par_level=5
    )
    planogram_slot_add(
        actor=None, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_b, capacity=5, par_level=4
    )
    return draft


def test_activate_recognition_and_check(world_a, draft) -> None:
    client = client_for(world_a.user("operations"))
    detail = client.get(f"/api/v1/planograms/{draft.pk}/").json()
    assert [w["skus"] for w in detail["check"]["warnings"]] == [["BAR-A", "BAR-B"]]
    assert [(s["shelf"], s["sensors"], s["capacity"], s["par_level"]) for s in detail["slots"]] == [
        (1, ["s1-1"], 5, 5),
        (1, ["s1-1"], 5, 4),
    ]
    response = client.post(f"/api/v1/planograms/{draft.pk}/activate/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "active" and body["effective_from"] is not None
    assert body["check"]["warnings"][0]["sensors"] == ["s1-1"]
    assert body["check"]["perfect_separation"] is False
    again = client.post(f"/api/v1/planograms/{draft.pk}/activate/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "inventory.planogram_not_draft")

    recognition = client.get(f"/api/v1/planograms/{draft.pk}/recognition/")
    assert recognition.status_code == 200
    assert recognition.json() == recognition_planogram(draft)
    assert [p["placements"][0]["count"] for p in recognition.json()["skus"]] == [5, 4]
    on_hand = client.get(f"/api/v1/planograms/{draft.pk}/recognition/", {"counts": "on_hand"}).json()
    assert [p["placements"][0]["count"] for p in on_hand["skus"]] == [0, 0]
    bad = client.get(f"/api/v1/planograms/{draft.pk}/recognition/", {"counts": "guess"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "core.invalid")

    check = client.get(f"/api/v1/planograms/{draft.pk}/check/").json()
    draft.refresh_from_db()
    assert check["report"] == draft.check_report
    assert check["summary"]["warnings"][0]["confusable_count"] == 10


def test_replenisher_reads_but_cannot_activate(world_a, draft) -> None:
    client = client_for(world_a.user("replenisher"))
    assert client.get(f"/api/v1/planograms/{draft.pk}/check/").status_code == 200
    response = client.post(f"/api/v1/planograms/{draft.pk}/activate/")
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_new_version_copies_the_version_in_force(world_a, draft) -> None:
    client = client_for(world_a.user("merchant_admin"))
    client.post(f"/api/v1/planograms/{draft.pk}/activate/")
    response = client.post(
        "/api/v1/planograms/", {"device": draft.device_id, "copy_in_force": True}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["version"], body["status"], len(body["slots"])) == (2, "draft", 2)
    # A draft of a vending machine is refused with a clear error.
    machine = vending_machine(world_a, "VEND-API1")
    refused = client.post("/api/v1/planograms/", {"device": machine.pk}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "inventory.no_weight_sensors")


def test_slot_writes_go_to_drafts_only(world_a, world_b, draft) -> None:
    client = client_for(world_a.user("operations"))
    chips = product(world_a, "CHIPS", "70.00")
    created = client.post(
        "/api/v1/planogram-slots/",
        {
            "planogram": draft.pk,
            "shelf": 2,
            "sensors": ["s2-1", "s2-2"],
            "product": chips.pk,
            "capacity": 6,
            "par_level": 6,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    slot_id = created.json()["id"]
    entry = AuditLogEntry.objects.get(
        object_type="inventory.planogramslot", object_id=str(slot_id), action="create"
    )
    assert (entry.channel, entry.after["sensors"]) == ("api", ["s2-1", "s2-2"])
    bad = client.patch(f"/api/v1/planogram-slots/{slot_id}/", {"sensors": ["s1-2"]}, format="json")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "inventory.bad_sensors")
    # The API speaks the request's language: no Accept-Language, so the site default, zh-hans.
    with translation.override("zh-hans"):
        not_on_shelf = gettext("Sensor %(sensor)s is not on shelf %(shelf)s.") % {
            "sensor": "s1-2",
            "shelf": 2,
        }
    assert bad.json()["error"]["fields"] == {"sensors": [not_on_shelf]}
    ok = client.patch(f"/api/v1/planogram-slots/{slot_id}/", {"par_level": 3}, format="json")
    assert (ok.status_code, ok.json()["par_level"]) == (200, 3)
    # Another merchant's product is unknown here.
    theirs = product(world_b, "THEIRS", "50.00")
    unknown = client.post(
        "/api/v1/planogram-slots/",
        {
            "planogram": draft.pk,
            "shelf": 2,
            "sensors": ["s2-1"],
            "product": theirs.pk,
            "capacity": 1,
            "par_level": 1,
        },
        format="json",
    )
    assert unknown.status_code == 400 and "product" in unknown.json()["error"]["fields"]

    client.post(f"/api/v1/planograms/{draft.pk}/activate/")
    rows = list(PlanogramSlot.objects.filter(planogram=draft).values())
    for response in (
        client.patch(f"/api/v1/planogram-slots/{slot_id}/", {"par_level": 1}, format="json"),
        client.delete(f"/api/v1/planogram-slots/{slot_id}/"),
        client.post(
            "/api/v1/planogram-slots/",
            {
                "planogram": draft.pk,
                "shelf": 2,
                "sensors": ["s2-1"],
                "product": chips.pk,
                "capacity": 1,
                "par_level": 1,
            },
            format="json",
        ),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (
            409,
            "inventory.planogram_not_draft",
        )
    assert list(PlanogramSlot.objects.filter(planogram=draft).values()) == rows


def test_slots_follow_the_planogram_permissions_and_scope(world_a, world_b, draft) -> None:
    slot = draft.slots.first()
    replenisher = client_for(world_a.user("replenisher"))
    assert replenisher.get(f"/api/v1/planogram-slots/{slot.pk}/").status_code == 200
    assert (
        replenisher.patch(f"/api/v1/planogram-slots/{slot.pk}/", {"par_level": 1}, format="json").status_code
        == 403
    )
    assert client_for(world_a.user("finance")).get("/api/v1/planogram-slots/").status_code == 403
    outsider = client_for(world_b.user("merchant_admin"))
    assert outsider.get(f"/api/v1/planogram-slots/{slot.pk}/").status_code == 404
    assert outsider.delete(f"/api/v1/planogram-slots/{slot.pk}/").status_code == 404
    assert PlanogramSlot.objects.filter(pk=slot.pk, par_level=5).exists()


# ---------------------------------------------------------------------------------- track actions


def test_generate_and_clone_tracks(world_a, world_b) -> None:
    client = client_for(world_a.user("operations"))
    source = vending_machine(world_a, "VEND-API2")
    response = client.post("/api/v1/tracks/generate/", {"device": source.pk}, format="json")
    assert response.status_code == 201, response.content
    assert [t["number"] for t in response.json()] == [1, 2, 3, 4, 5, 6]
    cola = product(world_a, "COLA", "355.00")
    track = Track.objects.get(device=source, number=1)
    patched = client.patch(
        f"/api/v1/tracks/{track.pk}/", {"product": cola.pk, "price_fen": 300}, format="json"
    )
    assert patched.status_code == 200, patched.content

    target = vending_machine(world_a, "VEND-API3")
    cloned = client.post(
        "/api/v1/tracks/clone/", {"source_device": source.pk, "target_devices": [target.pk]}, format="json"
    )
    assert cloned.status_code == 200, cloned.content
    assert cloned.json() == {"targets": 1, "created": 6, "updated": 0, "unchanged": 0}
    assert list(Track.objects.filter(device=target, number=1).values_list("product_id", "price_fen")) == [
        (cola.pk, 300)
    ]

    far = vending_machine(world_a, "VEND-FAR2", site="sz-1")
    foreign = vending_machine(world_b, "VEND-FOR2")
    for target_id in (far.pk, foreign.pk, 987654):
        hidden = client.post(
            "/api/v1/tracks/clone/",
            {"source_device": source.pk, "target_devices": [target_id]},
            format="json",
        )
        assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "core.not_found")
    other = vending_machine(world_a, "VEND-API4", kind=vending_kind("test-vending-10", tracks=10))
    mismatch = client.post(
        "/api/v1/tracks/clone/", {"source_device": source.pk, "target_devices": [other.pk]}, format="json"
    )
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (400, "inventory.kind_mismatch")
    assert not Track.objects.filter(device__in=[far, foreign, other]).exists()


def test_store_manager_edits_and_generates_tracks_but_replenishers_cannot(world_a) -> None:
    machine = vending_machine(world_a, "VEND-API5")
    tracks_generate(actor=None, device=machine)
    target = vending_machine(world_a, "VEND-API6")
    replenisher = client_for(world_a.user("replenisher"))
    refused = replenisher.post("/api/v1/tracks/generate/", {"device": target.pk}, format="json")
    assert refused.status_code == 403
    assert Track.objects.filter(device=target).count() == 0
    client = client_for(world_a.user("store_manager"))
    generated = client.post("/api/v1/tracks/generate/", {"device": target.pk}, format="json")
    assert generated.status_code == 201, generated.content
    assert Track.objects.filter(device=target).count() == target.kind.tracks
    track = Track.objects.get(device=machine, number=2)
    assert client.patch(f"/api/v1/tracks/{track.pk}/", {"par_level": 5}, format="json").status_code == 200
    bad = client.patch(f"/api/v1/tracks/{track.pk}/", {"par_level": 50}, format="json")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "inventory.bad_capacity")
    track.refresh_from_db()
    assert track.par_level == 5
