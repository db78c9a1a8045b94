"""Provisioning simulated devices through the real device services, and the CLI that prints them."""

from __future__ import annotations

import json

import pytest

from openvend.cli import main
from openvend.devices import credentials
from openvend.devices.models import Device, DeviceCredential
from openvend.simulator.provision import SIM_KIND_CODE, provision_devices, sensors_of


def _secret_works(code: str, secret: str) -> bool:
    active = DeviceCredential.objects.filter(device__code=code, revoked_at__isnull=True)
    return any(credentials.verify_secret(secret, c.secret_hash) for c in active)


def test_provisioned_devices_have_working_secrets_and_the_simulator_kind(world_a) -> None:
    site = world_a.sites["sh-1"]
    provisioned = provision_devices(world_a.merchant, 3, prefix="SIMT", site=site)
    assert [entry["code"] for entry in provisioned] == ["SIMT-0001", "SIMT-0002", "SIMT-0003"]
    assert all(_secret_works(entry["code"], entry["secret"]) for entry in provisioned)
    device = Device.objects.select_related("kind").get(code="SIMT-0001")
    assert (device.merchant_id, device.site_id, device.kind.code) == (
        world_a.merchant.pk,
        site.pk,
        SIM_KIND_CODE,
    )
    assert device.kind.type == "gravity_cabinet" and device.kind.has_camera
    assert sensors_of(["SIMT-0001"])["SIMT-0001"][:5] == ["s1-1", "s1-2", "s1-3", "s1-4", "s2-1"]
    assert len(sensors_of(["SIMT-0001"])["SIMT-0001"]) == 16


def test_provisioning_again_rotates_the_secrets_instead_of_failing(world_a) -> None:
    first = provision_devices(world_a.merchant, 2, prefix="SIMR")
    again = provision_devices(world_a.merchant, 3, prefix="SIMR")
    assert [e["code"] for e in again] == ["SIMR-0001", "SIMR-0002", "SIMR-0003"]
    assert Device.objects.filter(code__startswith="SIMR-").count() == 3
    for old, new in zip(first, again, strict=False):
        assert not _secret_works(old["code"], old["secret"])
        assert _secret_works(new["code"], new["secret"])


def test_codes_of_another_merchant_are_refused(world_a, world_b) -> None:
    provision_devices(world_a.merchant, 1, prefix="SIMX")
    with pytest.raises(ValueError, match="another merchant"):
        provision_devices(world_b.merchant, 1, prefix="SIMX")


def test_cli_prints_the_credentials_as_json(world_a, settings, capsys) -> None:
    settings.MQTT_URL = "mqtt://broker.example:1883"
    code = main(
        [
            "device",
            "provision",
            "--merchant",
            world_a.merchant.code,
            "--count",
            "2",
            "--prefix",
            "CLI",
            "--site",
            "sz-1",
        ]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [sorted(row) for row in rows] == [["code", "secret", "url", "username"]] * 2
    assert [(row["code"], row["username"], row["url"]) for row in rows] == [
        ("CLI-0001", "CLI-0001", "mqtt://broker.example:1883"),
        ("CLI-0002", "CLI-0002", "mqtt://broker.example:1883"),
    ]
    assert all(_secret_works(row["code"], row["secret"]) for row in rows)
    assert Device.objects.get(code="CLI-0001").site == world_a.sites["sz-1"]


def test_cli_reports_an_unknown_merchant(db, capsys) -> None:
    assert main(["device", "provision", "--merchant", "nobody"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no merchant with code 'nobody'" in captured.err
