"""Alarm lifecycle: one live alarm per device and kind, acknowledge/clear with audit, and the
signed webhook a merchant receives."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from openvend.audit.models import AuditLogEntry
from openvend.core.errors import OpenVendError
from openvend.devices import alarms
from openvend.devices.models import Alarm, AlarmSettings
from tests.conftest import client_for
from tests.devices.factories import activated_device


def test_repeats_count_on_the_live_alarm(world_a) -> None:
    device, _ = activated_device(world_a, "ALM-0001")
    first = alarms.alarm_raise(device=device, kind="camera_fault")
    second = alarms.alarm_raise(device=device, kind="camera_fault", detail={"again": True})
    assert first.pk == second.pk and second.occurrences == 2 and second.severity == "minor"
    assert alarms.alarm_resolve(device=device, kind="camera_fault") == 1
    third = alarms.alarm_raise(device=device, kind="camera_fault")
    assert third.pk != first.pk
    assert Alarm.objects.filter(device=device).count() == 2


def test_foreign_object_does_not_heal_itself_and_clearing_unlocks(world_a) -> None:
    device, _ = activated_device(world_a, "ALM-0002")
    device.locked_by_foreign_object = True
    device.save()
    alarm = alarms.alarm_raise(device=device, kind="foreign_object")
    assert alarms.alarm_resolve(device=device, kind="foreign_object") == 0
    admin = world_a.user("merchant_admin")
    alarms.alarm_acknowledge(actor=admin, alarm=alarm)
    alarms.alarm_clear(actor=admin, alarm=alarm, note="已取出异物")
    alarm.refresh_from_db()
    device.refresh_from_db()
    assert (alarm.status, alarm.cleared_by_id, device.locked_by_foreign_object) == (
        "cleared",
        admin.pk,
        False,
    )
    rows = list(
        AuditLogEntry.objects.filter(object_type="devices.alarm", object_id=str(alarm.pk))
        .order_by("id")
        .values_list("before__status", "after__status")
    )
    assert rows == [("open", "acknowledged"), ("acknowledged", "cleared")]
    with pytest.raises(OpenVendError):
        alarms.alarm_clear(actor=admin, alarm=alarm)


def test_api_acknowledge_clear_and_clear_all_are_scoped(world_a, world_b) -> None:
    mine, _ = activated_device(world_a, "ALM-0010")
    theirs, _ = activated_device(world_b, "ALM-0011")
    a1 = alarms.alarm_raise(device=mine, kind="temperature")
    alarms.alarm_raise(device=mine, kind="offline")
    b1 = alarms.alarm_raise(device=theirs, kind="temperature")
    ops = client_for(world_a.user("operations"))
    assert ops.post(f"/api/v1/alarms/{b1.pk}/acknowledge/").status_code == 404
    assert ops.post(f"/api/v1/alarms/{a1.pk}/acknowledge/").json()["status"] == "acknowledged"
    assert client_for(world_a.user("replenisher")).post("/api/v1/alarms/clear-all/").status_code == 403
    assert ops.post("/api/v1/alarms/clear-all/").json() == {"cleared": 2}
    assert Alarm.objects.get(pk=b1.pk).status == "open"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_new_alarm_is_pushed_to_the_signed_webhook(world_a, django_capture_on_commit_callbacks) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    try:
        alarms.alarm_settings_update(
            actor=world_a.user("merchant_admin"),
            merchant_id=world_a.merchant.pk,
            data={
                "webhook_url": f"http://127.0.0.1:{server.server_port}/hook",
                "webhook_secret": "whsec-test-1",
            },
        )
        stored = AlarmSettings.objects.get(merchant=world_a.merchant).webhook_secret
        assert stored.startswith("enc1:") and "whsec-test-1" not in stored
        entry = AuditLogEntry.objects.filter(object_type="devices.alarmsettings").latest("id")
        assert entry.after["webhook_secret"] == "***"

        device, _ = activated_device(world_a, "ALM-0020")
        with django_capture_on_commit_callbacks(execute=True):
            alarm = alarms.alarm_raise(device=device, kind="lock_not_engaged", detail={"lock": "fault"})
        with django_capture_on_commit_callbacks(execute=True):
            alarms.alarm_raise(device=device, kind="lock_not_engaged")  # a repeat: no second push
    finally:
        server.shutdown()
    assert len(_Receiver.received) == 1
    headers, body = _Receiver.received[0]
    payload = json.loads(body)
    assert payload["alarm"]["id"] == alarm.pk and payload["alarm"]["kind"] == "lock_not_engaged"
    assert payload["alarm"]["severity"] == "critical" and payload["device"]["code"] == "ALM-0020"
    stamp, mac = (part.split("=", 1)[1] for part in headers["x-openvend-signature"].split(","))
    expected = hmac.new(b"whsec-test-1", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)


def test_a_failed_webhook_is_retried_later_with_backoff(world_a, settings) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from openvend.devices.tasks import RETRY_DELAYS_S, deliver_alarm_webhook

    # A backend that can defer work (the production default); django-tasks resets on the change.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    alarms.alarm_settings_update(
        actor=None,
        merchant_id=world_a.merchant.pk,
        data={"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s"},  # nothing listens on 9
    )
    device, _ = activated_device(world_a, "ALM-0030")
    alarm = alarms.alarm_raise(device=device, kind="camera_fault")
    before = timezone.now()
    assert deliver_alarm_webhook.call(alarm.pk, 0) is None
    retry = DBTaskResult.objects.get(task_path="openvend.devices.tasks.deliver_alarm_webhook")
    assert retry.args_kwargs["args"] == [alarm.pk, 1]
    assert (
        timedelta(seconds=RETRY_DELAYS_S[0] - 1)
        < retry.run_after - before
        < timedelta(seconds=RETRY_DELAYS_S[0] + 5)
    )
    assert deliver_alarm_webhook.call(alarm.pk, len(RETRY_DELAYS_S)) is None  # the last attempt gives up
    assert DBTaskResult.objects.count() == 1
