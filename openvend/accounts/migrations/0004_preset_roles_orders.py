"""Give existing preset roles the order, appeal, shopping-session and blacklist permissions the presets
now include. The lists are frozen here on purpose: later changes to the presets need their own migration."""

from django.db import migrations

MERCHANT = {'customer_service': ['menu.appeals',
                      'menu.orders',
                      'menu.shopping',
                      'orders.handle_appeal',
                      'orders.refund_order',
                      'orders.view_appeal',
                      'orders.view_correction',
                      'orders.view_order',
                      'shopping.view_shoppingevent',
                      'shopping.view_shoppingsession'],
 'finance': ['menu.appeals',
             'menu.orders',
             'orders.refund_order',
             'orders.view_appeal',
             'orders.view_correction',
             'orders.view_order'],
 'merchant_admin': ['menu.appeals',
                    'menu.blacklist',
                    'menu.order_settings',
                    'menu.orders',
                    'menu.shopping',
                    'orders.add_orderpolicy',
                    'orders.change_orderpolicy',
                    'orders.handle_appeal',
                    'orders.refund_order',
                    'orders.resolve_order',
                    'orders.view_appeal',
                    'orders.view_correction',
                    'orders.view_order',
                    'orders.view_orderpolicy',
                    'shopping.add_blacklistentry',
                    'shopping.add_blacklistrule',
                    'shopping.change_blacklistentry',
                    'shopping.change_blacklistrule',
                    'shopping.delete_blacklistrule',
                    'shopping.view_blacklistentry',
                    'shopping.view_blacklistrule',
                    'shopping.view_shoppingevent',
                    'shopping.view_shoppingsession'],
 'operations': ['menu.orders',
                'menu.shopping',
                'orders.view_correction',
                'orders.view_order',
                'shopping.view_shoppingevent',
                'shopping.view_shoppingsession'],
 'store_manager': ['menu.appeals',
                   'menu.blacklist',
                   'menu.orders',
                   'menu.shopping',
                   'orders.resolve_order',
                   'orders.view_appeal',
                   'orders.view_correction',
                   'orders.view_order',
                   'shopping.add_blacklistentry',
                   'shopping.change_blacklistentry',
                   'shopping.view_blacklistentry',
                   'shopping.view_shoppingevent',
                   'shopping.view_shoppingsession']}

PLATFORM = {'platform_admin': ['menu.orders',
                    'orders.view_appeal',
                    'orders.view_correction',
                    'orders.view_order',
                    'shopping.view_shoppingevent',
                    'shopping.view_shoppingsession']}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(is_preset=True):
        extra = (PLATFORM if role.merchant_id is None else MERCHANT).get(role.code)
        if extra:
            role.permissions = sorted(set(role.permissions) | set(extra))
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_preset_roles_payments"),
        ("orders", "0003_order_staff_permissions"),
        ("shopping", "0003_blacklist_rules"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
