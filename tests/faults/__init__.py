import pytest
from django.db import connection

# Every fault test races real processes and connections: PostgreSQL only (SQLite serialises every
# writer, so the faults would not be faults there). CI runs the suite on PostgreSQL, where they run.
ON_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Fault tests need PostgreSQL: concurrent processes and row locks only race there.",
    ),
]
