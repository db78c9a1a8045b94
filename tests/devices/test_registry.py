"""Registration, activation (设备未维护), credentials, usage time and signed QR codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.devices import credentials, services
from openvend.devices.models import Device, DeviceCredential, DeviceServiceGrant, DeviceState
from tests.conftest import client_for, console_login
from tests.devices.factories import activated_device, gravity_kind


def test_unprovisioned_code_is_refused_with_the_operators_words(world_a) -> None:
    with pytest.raises(OpenVendError) as exc:
        services.device_activate(actor=None, merchant=world_a.merchant, code="NOPE-0001")
    assert exc.value.code == "devices.not_provisioned"
    assert "设备未维护" in exc.value.message
    assert Device.objects.count() == 0


def test_activation_issues_one_working_credential_and_audits(world_a) -> None:
    device, secret = activated_device(world_a, "CAB-0001")
    creds = list(DeviceCredential.objects.filter(device=device))
    assert [c.username for c in creds] == ["CAB-0001"]
    assert credentials.verify_secret(secret, creds[0].secret_hash)
    assert secret not in creds[0].secret_hash
    assert DeviceState.objects.filter(device=device, online=False).exists()
    entry = AuditLogEntry.objects.get(action="create", object_type="devices.device")
    assert entry.after["code"] == "CAB-0001" and entry.merchant_id == world_a.merchant.pk
    with pytest.raises(OpenVendError) as again:
        services.device_activate(actor=None, merchant=world_a.merchant, code="CAB-0001")
    assert again.value.code == "devices.already_activated"


def test_rotation_revokes_the_old_secret(world_a) -> None:
    device, old = activated_device(world_a, "CAB-0002")
    new = services.device_credentials_rotate(actor=None, device=device)
    active = DeviceCredential.objects.get(device=device, revoked_at__isnull=True)
    assert credentials.verify_secret(new, active.secret_hash) and not credentials.verify_secret(
        old, active.secret_hash
    )
    assert DeviceCredential.objects.filter(device=device).count() == 2
    services.device_credentials_revoke(actor=None, device=device)
    assert not DeviceCredential.objects.filter(device=device, revoked_at__isnull=True).exists()


def test_mosquitto_hash_format_matches_mosquitto_passwd() -> None:
    # A known vector produced by mosquitto_passwd 2.0 (PBKDF2-SHA512, 101 iterations).
    stored = (
        "$7$101$pIZ1dwfovwyGMXK6$r6Eh2nqCKkGVW2DtWXt0MZ5gseC1Q/YnDhlEnddwCrk0SzViwr4f8cEmTGereSPJ"
        "owoL8n6/KGwhTOjIBl0xQQ=="
    )
    assert credentials.verify_secret("secret123", stored)
    assert not credentials.verify_secret("secret124", stored)
    assert not credentials.verify_secret("secret123", "garbage")


def test_usage_time_extends_from_expiry_or_from_now(world_a, platform_admin) -> None:
    device, _ = activated_device(world_a, "CAB-0003")
    before = timezone.now()
    services.device_service_grant(actor=platform_admin, device=device, days=30, kind="gift", note="开业赠送")
    device.refresh_from_db()
    first_expiry = device.service_expires_at
    assert timedelta(days=30) <= first_expiry - before < timedelta(days=30, seconds=5)
    services.device_service_grant(actor=platform_admin, device=device, days=10)
    device.refresh_from_db()
    assert device.service_expires_at - first_expiry == timedelta(days=10)
    grants = list(
        DeviceServiceGrant.objects.filter(device=device).order_by("created_at").values_list("kind", "days")
    )
    assert grants == [("gift", 30), ("purchase", 10)]
    assert not device.is_expired


def test_qr_token_is_signed(world_a) -> None:
    device, _ = activated_device(world_a, "CAB-0004")
    token = services.device_qr_token(device, "semi_auto")
    assert services.device_qr_verify(token) == ("CAB-0004", "semi_auto")
    forged = token.replace(token[5], "A" if token[5] != "A" else "B", 1)
    with pytest.raises(OpenVendError) as exc:
        services.device_qr_verify(forged)
    assert exc.value.code == "devices.bad_qr"


def test_scan_page_refuses_a_forged_code(world_a, client) -> None:
    device, _ = activated_device(world_a, "CAB-0005")
    token = services.device_qr_token(device)
    good = client.get(f"/m/scan/{token}/")  # a shopper goes on to the merchant's shopping page
    assert good.status_code == 302 and good.url == f"/m/c/{device.merchant.code}/scan/{token}/"
    assert client.get("/m/scan/not-a-real-token/").status_code == 400


def test_activation_and_device_api_are_tenant_scoped(world_a, world_b) -> None:
    services.device_register(actor=None, code="CAB-0100", kind=gravity_kind())
    ops = client_for(world_a.user("operations"))
    response = ops.post(
        "/api/v1/devices/activate/",
        {"code": "CAB-0100", "name": "徐汇一号柜", "site": world_a.sites["sh-1"].pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credentials"]["username"] == "CAB-0100" and len(body["credentials"]["secret"]) >= 24
    device_id = body["device"]["id"]
    missing = ops.post("/api/v1/devices/activate/", {"code": "CAB-9999"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "devices.not_provisioned"
    other = client_for(world_b.user("merchant_admin"))
    assert other.get(f"/api/v1/devices/{device_id}/").status_code == 404
    assert (
        other.post(f"/api/v1/devices/{device_id}/commands/", {"kind": "reboot"}, format="json").status_code
        == 404
    )
    # Replenishers may open doors (restocking) but not reboot.
    rep = client_for(world_a.user("replenisher"))
    assert (
        rep.post(f"/api/v1/devices/{device_id}/commands/", {"kind": "reboot"}, format="json").status_code
        == 403
    )
    opened = rep.post(
        f"/api/v1/devices/{device_id}/commands/",
        {"kind": "open_door", "params": {"door": 1, "mode": "restock"}},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    assert opened.json()["status"] == "pending"


def test_fleet_counts_on_the_dashboard(world_a, client) -> None:
    from openvend.devices.alarms import alarm_raise
    from openvend.devices.selectors import fleet_counts
    from tests.world import PASSWORD

    first, _ = activated_device(world_a, "CNT-0001")
    second, _ = activated_device(world_a, "CNT-0002", site="sz-1")
    DeviceState.objects.filter(device=first).update(online=True)
    alarm_raise(device=second, kind="offline")
    alarm_raise(device=second, kind="camera_fault")
    assert fleet_counts(world_a.user("merchant_admin")) == {
        "total": 2,
        "online": 1,
        "offline": 1,
        "abnormal": 1,
    }
    # Operations in 上海徐汇 do not see the 华南 cabinet.
    assert fleet_counts(world_a.user("operations")) == {"total": 1, "online": 1, "offline": 0, "abnormal": 0}
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    page = client.get("/console/").content.decode()
    assert "Devices online" in page or "在线设备" in page


def test_machine_group_scope_shows_only_that_groups_devices(world_a) -> None:
    """A machine group (机器组) handed to one member of staff as their data scope."""
    from openvend.accounts import services as accounts
    from openvend.accounts.models import User

    in_group, _ = activated_device(world_a, "GRP-0001", site="sz-1")
    activated_device(world_a, "GRP-0002", site="sz-1")
    services.device_update(actor=None, device=in_group, data={"group": world_a.group})
    role = accounts.role_create(
        actor=None,
        merchant=world_a.merchant,
        code="group-ops",
        name="机组运维",
        data_scope="device_groups",
        permissions=["devices.view_device", "menu.devices"],
        device_groups=[world_a.group],
    )
    user = accounts.user_create(
        actor=None,
        merchant=world_a.merchant,
        username="group-ops-1",
        password="Correct-Horse-42",
        roles=[role],
    )
    visible = list(Device.objects.restrict(User.objects.get(pk=user.pk)).values_list("code", flat=True))
    assert visible == ["GRP-0001"]
    response = client_for(User.objects.get(pk=user.pk)).get("/api/v1/devices/")
    assert [row["code"] for row in response.json()["results"]] == ["GRP-0001"]


def test_site_page_lists_its_devices(world_a, client) -> None:
    from tests.world import PASSWORD

    activated_device(world_a, "SITE-0001", site="sh-2")
    assert console_login(client, world_a.users["merchant_admin"].username, PASSWORD)
    page = client.get(f"/console/merchants/site/{world_a.sites['sh-2'].pk}/change/").content.decode()
    assert "SITE-0001" in page
    device_page = client.get(f"/console/devices/device/{Device.objects.get(code='SITE-0001').pk}/change/")
    assert device_page.status_code == 200 and world_a.sites["sh-2"].name in device_page.content.decode()


def test_staff_activate_a_cabinet_from_the_phone(world_a, client) -> None:
    from tests.world import PASSWORD

    services.device_register(actor=None, code="PHONE-0001", kind=gravity_kind())
    client.post("/m/login/", {"username": world_a.users["operations"].username, "password": PASSWORD})
    form = client.get("/m/devices/activate/?code=PHONE-0001")
    assert form.status_code == 200 and 'value="PHONE-0001"' in form.content.decode()
    missing = client.post("/m/devices/activate/", {"code": "PHONE-9999", "site": ""})
    assert missing.status_code == 400 and "设备未维护" in missing.content.decode()
    done = client.post(
        "/m/devices/activate/", {"code": "PHONE-0001", "name": "前台柜", "site": world_a.sites["sh-1"].pk}
    )
    assert done.status_code == 200
    device = Device.objects.get(code="PHONE-0001")
    assert (device.merchant_id, device.site_id, device.name) == (
        world_a.merchant.pk,
        world_a.sites["sh-1"].pk,
        "前台柜",
    )
    secret = done.content.decode().split('<code id="secret">')[1].split("</code>")[0]
    assert credentials.verify_secret(secret, DeviceCredential.objects.get(device=device).secret_hash)
    client.logout()
    client.post("/m/login/", {"username": world_a.users["finance"].username, "password": PASSWORD})
    assert client.get("/m/devices/activate/").status_code == 403
