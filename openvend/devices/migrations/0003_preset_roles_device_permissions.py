"""Give existing merchants' preset roles the device permissions the presets now include.
The lists are frozen here on purpose: later changes to the presets need their own migration."""

from django.db import migrations

VIEW = ["devices.view_device", "devices.view_devicekind", "devices.view_alarm", "devices.view_command"]
OPEN = [*VIEW, "devices.open_door_device"]
OPERATE = [
    *OPEN,
    "devices.change_device",
    "devices.command_device",
    "devices.change_alarm",
    "devices.view_alarmsettings",
]
ADMIN = [
    *OPERATE,
    "devices.add_device",
    "devices.change_alarmsettings",
    "menu.devices",
    "menu.alarms",
]
ADDED = {
    "merchant_admin": ADMIN,
    "operations": [*OPERATE, "devices.add_device", "menu.devices", "menu.alarms"],
    "replenisher": [*OPEN, "menu.devices"],
    "customer_service": [*OPEN, "menu.devices", "menu.alarms"],
    "store_manager": [*OPERATE, "menu.devices", "menu.alarms"],
    "finance": [*VIEW, "menu.devices"],
}
PLATFORM_ADMIN = [
    "devices.view_devicekind",
    "devices.add_devicekind",
    "devices.change_devicekind",
    "devices.delete_devicekind",
    "devices.view_deviceregistration",
    "devices.add_deviceregistration",
    "devices.change_deviceregistration",
    "devices.delete_deviceregistration",
    "devices.view_device",
    "devices.view_deviceservicegrant",
    "devices.add_deviceservicegrant",
    "devices.view_command",
    "devices.view_alarm",
    "menu.devices",
    "menu.alarms",
]


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(is_preset=True):
        extra = (
            PLATFORM_ADMIN
            if role.merchant_id is None and role.code == "platform_admin"
            else ADDED.get(role.code)
        )
        if role.merchant_id is None and role.code != "platform_admin":
            continue
        if extra:
            role.permissions = sorted(set(role.permissions) | set(extra))
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0002_device_state_birth_seq"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
