"""Payment services: the writes of the payments domain, split by concern.

- states: the transition tables and the only functions that change a payment's or refund's state
- results: applying what a provider said (response, notification or query) to our records
- charging: creating payments, opening pay-after orders, charging, paying an owed order, cancelling
- notifications: receiving provider notifications (verify, deduplicate, cross-check, apply)
- refunds, authorisations, wallet (the member balance ledger)
- reconcile: querying providers about anything overdue (lost notifications, lost tasks)
"""
