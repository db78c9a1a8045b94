"""Give existing preset roles the payment permissions the presets now include.
The lists are frozen here on purpose: later changes to the presets need their own migration."""

from django.db import migrations

MERCHANT = {'customer_service': ['menu.payments',
                      'payments.refund_payment',
                      'payments.sync_payment',
                      'payments.view_payafterauthorisation',
                      'payments.view_payment',
                      'payments.view_refund',
                      'payments.view_walletaccount'],
 'finance': ['menu.payment_settings',
             'menu.payments',
             'payments.refund_payment',
             'payments.sync_payment',
             'payments.view_merchantpaymentconfig',
             'payments.view_onboarding',
             'payments.view_payafterauthorisation',
             'payments.view_payment',
             'payments.view_refund',
             'payments.view_sitepaymentmethod',
             'payments.view_walletaccount'],
 'merchant_admin': ['menu.payment_settings',
                    'menu.payments',
                    'payments.add_onboarding',
                    'payments.add_sitepaymentmethod',
                    'payments.change_merchantpaymentconfig',
                    'payments.change_onboarding',
                    'payments.change_sitepaymentmethod',
                    'payments.delete_sitepaymentmethod',
                    'payments.refund_payment',
                    'payments.sync_payment',
                    'payments.view_merchantpaymentconfig',
                    'payments.view_onboarding',
                    'payments.view_payafterauthorisation',
                    'payments.view_payment',
                    'payments.view_refund',
                    'payments.view_sitepaymentmethod',
                    'payments.view_walletaccount'],
 'store_manager': ['menu.payments',
                   'payments.sync_payment',
                   'payments.view_payafterauthorisation',
                   'payments.view_payment',
                   'payments.view_refund',
                   'payments.view_walletaccount']}

PLATFORM = {'platform_admin': ['menu.payment_accounts',
                    'menu.payments',
                    'payments.add_provideraccount',
                    'payments.change_provideraccount',
                    'payments.delete_provideraccount',
                    'payments.review_onboarding',
                    'payments.sync_payment',
                    'payments.view_merchantpaymentconfig',
                    'payments.view_onboarding',
                    'payments.view_payment',
                    'payments.view_provideraccount',
                    'payments.view_providernotification',
                    'payments.view_refund'],
 'platform_reviewer': ['menu.payment_accounts',
                       'payments.review_onboarding',
                       'payments.view_merchantpaymentconfig',
                       'payments.view_onboarding']}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(is_preset=True):
        extra = (PLATFORM if role.merchant_id is None else MERCHANT).get(role.code)
        if extra:
            role.permissions = sorted(set(role.permissions) | set(extra))
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_preset_roles_catalog_inventory"),
        ("payments", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
