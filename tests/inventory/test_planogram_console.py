"""Planogram and track pages in both consoles: warnings panel, actions, inline edits, clone, export."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from openvend.audit.models import AuditLogEntry
from openvend.inventory.models import Planogram, PlanogramSlot, Track
from openvend.inventory.planogram_services import (
    planogram_activate,
    planogram_draft_create,
    planogram_slot_add,
)
from openvend.inventory.track_services import track_update, tracks_generate
from tests.conftest import console_login
from tests.devices.factories import activated_device
from tests.inventory.planogram_factories import product, vending_kind, vending_machine
from tests.world import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(world_a):
    device, _secret = activated_device(world_a, "CONS-0001")
    draft = planogram_draft_create(actor=None, device=device)
    bar_a, bar_b = product(world_a, "BAR-A", "45.00", "1.00"), product(world_a, "BAR-B", "46.00", "1.00")
    planogram_slot_add(
        actor=None, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_a, capacity=5, par_level=5
    )
    planogram_slot_add(
        actor=None, planogram=draft, shelf=1, sensors=["s1-1"], product=bar_b, capacity=5, par_level=5
    )
    return draft


def _login(client, world, role="merchant_admin"):
    assert console_login(client, world.users[role].username, PASSWORD)
    return client


def _formset_post(planogram, rows, note=""):
    data = {
        "note": note,
        "slots-TOTAL_FORMS": str(len(rows)),
        "slots-INITIAL_FORMS": str(sum(1 for r in rows if r.get("id"))),
        "slots-MIN_NUM_FORMS": "0",
        "slots-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"slots-{index}-{key}"] = value
        data[f"slots-{index}-planogram"] = str(planogram.pk)
    return data


def _existing_rows(planogram):
    return [
        {
            "id": str(slot.pk),
            "shelf": str(slot.shelf),
            "sensors": ", ".join(slot.sensors),
            "product": str(slot.product_id),
            "capacity": str(slot.capacity),
            "par_level": str(slot.par_level),
        }
        for slot in planogram.slots.order_by("shelf", "id")
    ]


def test_the_change_page_shows_the_confusable_products(world_a, client, draft):
    _login(client, world_a)
    page = client.get("/console/inventory/planogram/")
    assert page.status_code == 200 and "CONS-0001" in page.content.decode()
    html = client.get(f"/console/inventory/planogram/{draft.pk}/change/").content.decode()
    panel = html[html.index('id="planogram-check"') :]
    assert "s1-1" in panel[:3000] and "BAR-A, BAR-B" in panel[:3000] and "45.2%" in panel[:3000]
    assert "1 × BAR-A ≈ 1 × BAR-B (1.0 g, 0.5 σ)" in panel


def test_a_clean_layout_has_no_warnings(world_a, client):
    device, _secret = activated_device(world_a, "CONS-0002")
    draft = planogram_draft_create(actor=None, device=device)
    planogram_slot_add(
        actor=None,
        planogram=draft,
        shelf=1,
        sensors=["s1-1"],
        product=product(world_a, "CAN", "330.00"),
        capacity=5,
        par_level=5,
    )
    _login(client, world_a)
    html = client.get(f"/console/inventory/planogram/{draft.pk}/change/").content.decode()
    assert "≈" not in html[html.index('id="planogram-check"') :]


def test_inline_slot_edits_go_through_the_services(world_a, client, draft):
    _login(client, world_a)
    chips = product(world_a, "CHIPS", "70.00")
    rows = [
        *_existing_rows(draft),
        {"shelf": "2", "sensors": "s2-1, s2-2", "product": str(chips.pk), "capacity": "6", "par_level": "4"},
    ]
    response = client.post(
        f"/console/inventory/planogram/{draft.pk}/change/", _formset_post(draft, rows, "v1")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    added = draft.slots.get(product=chips)
    assert (added.shelf, added.sensors, added.capacity, added.par_level) == (2, ["s2-1", "s2-2"], 6, 4)
    entry = AuditLogEntry.objects.get(
        object_type="inventory.planogramslot", object_id=str(added.pk), action="create"
    )
    assert (entry.actor_id, entry.channel) == (world_a.users["merchant_admin"].pk, "console")
    draft.refresh_from_db()
    assert draft.note == "v1"

    # A sensor from another shelf is refused on the field and nothing changes.
    before = list(PlanogramSlot.objects.filter(planogram=draft).order_by("id").values())
    rows = _existing_rows(draft)
    rows[-1]["sensors"] = "s1-2"
    response = client.post(
        f"/console/inventory/planogram/{draft.pk}/change/", _formset_post(draft, rows, "v1")
    )
    assert response.status_code == 200
    # The console speaks the signed-in user's language: 阿尔法零售 defaults to zh-hans.
    with translation.override("zh-hans"):
        not_on_shelf = gettext("Sensor %(sensor)s is not on shelf %(shelf)s.") % {
            "sensor": "s1-2",
            "shelf": 2,
        }
    assert not_on_shelf in response.content.decode()
    assert list(PlanogramSlot.objects.filter(planogram=draft).order_by("id").values()) == before

    # Deleting a slot in the inline removes it, audited.
    rows = _existing_rows(draft)
    rows[0]["DELETE"] = "on"
    removed = int(rows[0]["id"])
    response = client.post(
        f"/console/inventory/planogram/{draft.pk}/change/", _formset_post(draft, rows, "v1")
    )
    assert response.status_code == 302
    assert not PlanogramSlot.objects.filter(pk=removed).exists()
    assert AuditLogEntry.objects.filter(
        object_type="inventory.planogramslot", object_id=str(removed), action="delete"
    ).exists()


def test_activate_and_new_version_actions(world_a, client, draft):
    _login(client, world_a, "operations")
    confirm = client.get(f"/console/inventory/planogram/{draft.pk}/activate/")
    assert confirm.status_code == 200 and 'id="planogram-check"' in confirm.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"  # opening the confirmation changes nothing
    response = client.post(f"/console/inventory/planogram/{draft.pk}/activate/", follow=True)
    draft.refresh_from_db()
    assert draft.status == "active"
    assert "s1-1" in " ".join(str(m) for m in response.context["messages"])
    # The active version's slots are read-only now: a posted inline change is ignored.
    rows = _existing_rows(draft)
    rows[0]["capacity"] = "50"
    client.post(f"/console/inventory/planogram/{draft.pk}/change/", _formset_post(draft, rows))
    assert sorted(draft.slots.values_list("capacity", flat=True)) == [5, 5]

    response = client.post(f"/console/inventory/planogram/{draft.pk}/new-version/")
    v2 = Planogram.objects.get(device=draft.device, version=2)
    assert response.status_code == 302 and response.url.endswith(f"/{v2.pk}/change/")
    assert (v2.status, v2.slots.count()) == ("draft", 2)


def test_adding_a_planogram_in_the_console(world_a, client, draft):
    planogram_activate(actor=None, planogram=draft)
    _login(client, world_a)
    response = client.post(
        "/console/inventory/planogram/add/",
        {"device": draft.device_id, "note": "autumn", "copy_in_force": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    created = Planogram.objects.get(device=draft.device, version=2)
    assert (created.note, created.status, created.slots.count()) == ("autumn", "draft", 2)
    machine = vending_machine(world_a, "VEND-C001")
    refused = client.post("/console/inventory/planogram/add/", {"device": machine.pk, "note": ""})
    assert refused.status_code == 200
    assert not Planogram.objects.filter(device=machine).exists()


def test_platform_console_is_read_only(world_a, client, platform_admin, draft):
    assert console_login(client, platform_admin.username, PASSWORD, console="/platform/")
    assert client.get("/platform/inventory/planogram/").status_code == 200
    assert client.get(f"/platform/inventory/planogram/{draft.pk}/change/").status_code == 200
    assert client.get("/platform/inventory/planogram/add/").status_code == 403
    assert client.post(f"/platform/inventory/planogram/{draft.pk}/change/", {"note": "x"}).status_code == 403
    assert client.get(f"/platform/inventory/planogram/{draft.pk}/activate/").status_code in {302, 403}
    draft.refresh_from_db()
    assert (draft.status, draft.note) == ("draft", "")
    assert client.get("/platform/inventory/track/").status_code == 200


def test_other_merchants_planograms_do_not_exist_here(world_a, world_b, client, draft):
    assert console_login(client, world_b.users["merchant_admin"].username, PASSWORD)
    response = client.get(f"/console/inventory/planogram/{draft.pk}/change/")
    assert response.status_code == 302  # Django admin: "doesn't exist", back to the list
    assert client.post(f"/console/inventory/planogram/{draft.pk}/activate/").status_code == 404
    draft.refresh_from_db()
    assert draft.status == "draft"


# ---------------------------------------------------------------------------------------- tracks


@pytest.fixture
def machines(world_a):
    source = vending_machine(world_a, "VEND-C010")
    tracks_generate(actor=None, device=source)
    cola = product(world_a, "COLA", "355.00")
    track_update(
        actor=None, track=Track.objects.get(device=source, number=1), data={"product": cola, "price_fen": 350}
    )
    same = vending_machine(world_a, "VEND-C011")
    far = vending_machine(world_a, "VEND-C012", site="sz-1")
    other = vending_machine(world_a, "VEND-C013", kind=vending_kind("test-vending-8", tracks=8))
    return source, same, far, other, cola


def test_track_list_inline_editing_is_audited(world_a, client, machines):
    source, *_rest, cola = machines
    _login(client, world_a, "store_manager")
    page = client.get(f"/console/inventory/track/?device__id__exact={source.pk}")
    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == 6
    tracks = list(Track.objects.filter(device=source).order_by("number"))
    data = {
        "form-TOTAL_FORMS": "6",
        "form-INITIAL_FORMS": "6",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, track in enumerate(tracks):
        data.update(
            {
                f"form-{index}-id": str(track.pk),
                f"form-{index}-product": str(track.product_id or ""),
                f"form-{index}-price_fen": str(track.price_fen or ""),
                f"form-{index}-capacity": str(track.capacity),
                f"form-{index}-par_level": str(track.par_level),
                f"form-{index}-enabled": "on" if track.enabled else "",
            }
        )
    data["form-1-product"] = str(cola.pk)
    data["form-1-price_fen"] = "420"
    response = client.post(f"/console/inventory/track/?device__id__exact={source.pk}", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    changed = Track.objects.get(device=source, number=2)
    assert (changed.product_id, changed.price_fen) == (cola.pk, 420)
    entry = AuditLogEntry.objects.filter(
        object_type="inventory.track", object_id=str(changed.pk), action="update"
    ).latest("id")
    assert (entry.before["price_fen"], entry.after["price_fen"], entry.channel) == (None, 420, "console")

    data["form-2-par_level"] = "99"  # above capacity 10: refused on the row, nothing saved
    response = client.post(f"/console/inventory/track/?device__id__exact={source.pk}", data)
    assert response.status_code == 200
    assert Track.objects.get(device=source, number=3).par_level == 10


def test_clone_action_offers_scoped_machines_of_the_same_kind(world_a, client, machines):
    source, same, far, other, cola = machines
    _login(client, world_a, "operations")
    ids = [str(pk) for pk in Track.objects.filter(device=source).values_list("pk", flat=True)]
    form = client.post("/console/inventory/track/", {"action": "clone_tracks", "_selected_action": ids})
    assert form.status_code == 200
    choices = {device.pk for device in form.context["form"].fields["target_devices"].queryset}
    assert choices == {same.pk}  # not the source, not another kind, not outside the scope
    response = client.post(
        "/console/inventory/track/",
        {"action": "clone_tracks", "_selected_action": ids, "apply": "1", "target_devices": [str(same.pk)]},
    )
    assert response.status_code == 302
    assert list(
        Track.objects.filter(device=same).order_by("number").values_list("number", "product_id", "price_fen")
    ) == [
        (1, cola.pk, 350),
        *[(n, None, None) for n in range(2, 7)],
    ]
    # A machine outside the choices is refused by the form: nothing cloned.
    client.post(
        "/console/inventory/track/",
        {"action": "clone_tracks", "_selected_action": ids, "apply": "1", "target_devices": [str(far.pk)]},
    )
    assert not Track.objects.filter(device__in=[far, other]).exists()


def test_generate_tracks_page(world_a, client, machines):
    _source, same, *_rest = machines
    _login(client, world_a)
    assert client.get("/console/inventory/track/generate/").status_code == 200
    response = client.post("/console/inventory/track/generate/", {"device": same.pk})
    assert response.status_code == 302
    assert list(Track.objects.filter(device=same).values_list("number", flat=True).order_by("number")) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_tracks_export_to_excel(world_a, client, machines):
    source, *_rest, cola = machines
    _login(client, world_a)
    ids = [
        str(pk) for pk in Track.objects.filter(device=source, number__in=[1, 2]).values_list("pk", flat=True)
    ]
    response = client.post("/console/inventory/track/", {"action": "export_xlsx", "_selected_action": ids})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3
    assert rows[1][1:5] == (1, str(cola), 350, 10)
    assert rows[2][1:5] == (2, None, None, 10)


def test_activate_is_offered_on_drafts_only(world_a, client, draft):
    _login(client, world_a)
    activate_url = f"/console/inventory/planogram/{draft.pk}/activate/"
    new_version_url = f"/console/inventory/planogram/{draft.pk}/new-version/"
    html = client.get(f"/console/inventory/planogram/{draft.pk}/change/").content.decode()
    assert activate_url in html and new_version_url in html
    planogram_activate(actor=None, planogram=draft)
    html = client.get(f"/console/inventory/planogram/{draft.pk}/change/").content.decode()
    assert activate_url not in html and new_version_url in html
    # Staff who may only view see neither.
    client.logout()
    _login(client, world_a, "store_manager")
    html = client.get(f"/console/inventory/planogram/{draft.pk}/change/").content.decode()
    assert activate_url not in html and new_version_url not in html
    assert 'id="planogram-check"' in html
