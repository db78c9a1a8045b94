"""The open-door command reaches the cabinet as soon as it is committed, not at the dispatcher's next poll.

Every gateway here polls only every 30 s, so a command that arrives within a second was published on
the bell: NOTIFY/LISTEN on PostgreSQL, the in-process after-commit wake on SQLite. The PostgreSQL-only
tests cover what only a real server shows: two gateways both woken and one publish, a rolled-back
NOTIFY never delivered, and a killed LISTEN connection opened again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from openvend.devices.choices import CommandStatus
from openvend.devices.commands import command_send, commands_due, commands_mark_sent
from openvend.devices.models import Command
from openvend.gateway.runner import Gateway, GatewayConfig
from openvend.gateway.wakeup import LISTENER_APPLICATION_NAME
from tests.devices.factories import activated_device
from tests.gateway.conftest import RunningBroker
from tests.gateway.test_gateway_live import Device, wait_until
from tests.world import build_world

POLL_S = 30.0
PROMPT_S = 1.0

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="LISTEN/NOTIFY and SKIP LOCKED exist on PostgreSQL only."
)


class Rollback(Exception):
    pass


@pytest.fixture
def world(transactional_db):
    return build_world("bell", "门铃商户")


def _gateway(broker: RunningBroker, *, wakeup: bool = True) -> Gateway:
    config = GatewayConfig(
        url=broker.url,
        username=broker.gateway_username,
        password=broker.gateway_password,
        shared_group="bell" if broker.shared_subscriptions else "",
        dispatch_wakeup=wakeup,
        dispatch_every_s=POLL_S,
        sweep_every_s=60,
    )
    gateway = Gateway(config).start()
    # The first pass runs at start (what waited while no gateway ran); from here on only a bell or
    # the 30 s poll brings another.
    wait_until(lambda: gateway.stats["dispatch_passes"] == 1, what="the dispatcher's first pass")
    return gateway


@pytest.fixture
def cabinet(mosquitto_broker: RunningBroker, world) -> Iterator[tuple[Device, object]]:
    row, secret = activated_device(world, "BELL-0001")
    mosquitto_broker.sync()
    device = Device(mosquitto_broker, "BELL-0001", secret)
    yield device, row
    device.close()


def _open_door(world, row) -> Command:
    return command_send(
        actor=world.user("operations"), device=row, kind="open_door", params={"door": 1, "mode": "staff"}
    )


def _wait_pass_committed(gateway: Gateway, passes: int) -> None:
    """The cabinet has the command before the pass that published it commits (publish, then mark sent)."""
    wait_until(lambda: gateway.stats["dispatch_passes"] == passes, what=f"dispatch pass {passes} to commit")


def _listener_pids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            [LISTENER_APPLICATION_NAME],
        )
        return sorted(row[0] for row in cursor.fetchall())


def test_a_dispatch_pass_takes_two_statements_however_many_commands(world) -> None:
    first, _ = activated_device(world, "BELL-0101")
    second, _ = activated_device(world, "BELL-0102")
    sent = [_open_door(world, device) for device in (first, second, first)]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        due = commands_due()
        published = [(str(command.pk), command.device.code) for command in due]
        marked = commands_mark_sent(command.pk for command in due)
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    verbs = [q["sql"].split()[0] for q in queries.captured_queries if not q["sql"].startswith(control)]
    assert verbs == ["SELECT", "UPDATE"]
    assert published == [(str(c.pk), c.device.code) for c in sent]
    assert marked == 3
    assert list(Command.objects.order_by("created_at").values_list("status", flat=True)) == ["sent"] * 3
    assert Command.objects.filter(sent_at__isnull=True).count() == 0
    assert commands_mark_sent(command.pk for command in sent) == 0  # already sent: nothing changes
    with transaction.atomic():
        assert commands_due() == []


def test_a_command_is_published_at_once_despite_a_30_s_poll(mosquitto_broker, world, cabinet) -> None:
    device, row = cabinet
    gateway = _gateway(mosquitto_broker)
    try:
        command = _open_door(world, row)
        wait_until(lambda: device.commands(), timeout=PROMPT_S, what="the open-door command at the cabinet")
        assert [(c["id"], c["kind"]) for c in device.commands()] == [(str(command.pk), "open_door")]
        _wait_pass_committed(gateway, 2)
        assert Command.objects.get(pk=command.pk).status == CommandStatus.SENT
        assert (gateway.stats["dispatch_wakeups"], gateway.stats["commands_sent"]) == (1, 1)
    finally:
        gateway.stop()


def test_without_the_bell_the_command_waits_for_the_poll(mosquitto_broker, world, cabinet) -> None:
    """The contrast that makes the test above mean something: the poll alone is not prompt."""
    device, row = cabinet
    gateway = _gateway(mosquitto_broker, wakeup=False)
    try:
        command = _open_door(world, row)
        time.sleep(PROMPT_S)
        assert device.commands() == []
        assert Command.objects.get(pk=command.pk).status == CommandStatus.PENDING
        assert gateway.stats["dispatch_passes"] == 1
    finally:
        gateway.stop()


def test_a_rolled_back_command_rings_nothing_and_publishes_nothing(mosquitto_broker, world, cabinet) -> None:
    device, row = cabinet
    gateway = _gateway(mosquitto_broker)
    try:
        with pytest.raises(Rollback), transaction.atomic():
            _open_door(world, row)
            raise Rollback
        time.sleep(PROMPT_S)
        assert device.commands() == []
        assert Command.objects.count() == 0
        assert (gateway.stats["dispatch_wakeups"], gateway.stats["dispatch_passes"]) == (0, 1)
        # Still listening: the next committed command is the one that arrives.
        command = _open_door(world, row)
        wait_until(lambda: device.commands(), timeout=PROMPT_S, what="the committed command")
        assert [c["id"] for c in device.commands()] == [str(command.pk)]
        assert gateway.stats["dispatch_wakeups"] == 1
    finally:
        gateway.stop()


@pytest.mark.postgres
@postgres_only
def test_two_gateways_both_woken_publish_each_command_once(mosquitto_broker, world, cabinet) -> None:
    device, row = cabinet
    first, second = _gateway(mosquitto_broker), _gateway(mosquitto_broker)
    try:
        command = _open_door(world, row)
        wait_until(lambda: device.commands(), timeout=PROMPT_S, what="the open-door command")
        wait_until(
            lambda: first.stats["dispatch_wakeups"] == second.stats["dispatch_wakeups"] == 1,
            timeout=PROMPT_S,
            what="both dispatchers to hear the bell",
        )
        wait_until(
            lambda: first.stats["dispatch_passes"] == second.stats["dispatch_passes"] == 2,
            what="both woken passes to finish",
        )
        time.sleep(0.3)  # a second publish would have arrived by now
        assert [c["id"] for c in device.commands()] == [str(command.pk)]
        assert first.stats["commands_sent"] + second.stats["commands_sent"] == 1

        # A burst: both dispatchers race on every bell; SKIP LOCKED leaves each command to one of them.
        burst = [_open_door(world, row) for _n in range(20)]
        expected = {str(command.pk)} | {str(c.pk) for c in burst}
        wait_until(lambda: len(device.commands()) >= 21, what="the burst at the cabinet")
        wait_until(
            lambda: Command.objects.filter(status=CommandStatus.SENT).count() == 21,
            what="every pass to commit",
        )
        time.sleep(0.3)  # any second publish of the burst would have arrived by now
        ids = [c["id"] for c in device.commands()]
        assert sorted(ids) == sorted(expected)  # each exactly once
        wait_until(
            lambda: first.stats["commands_sent"] + second.stats["commands_sent"] == 21, what="the tallies"
        )
    finally:
        first.stop()
        second.stop()


@pytest.mark.postgres
@postgres_only
def test_a_killed_listen_connection_is_opened_again(mosquitto_broker, world, cabinet) -> None:
    device, row = cabinet
    gateway = _gateway(mosquitto_broker)
    try:
        [lost] = _listener_pids()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [lost])
            assert cursor.fetchone() == (True,)
        wait_until(lambda: gateway.stats["wakeup_reconnects"] == 1, what="the dispatcher to notice")
        wait_until(lambda: len(_listener_pids()) == 1 and _listener_pids() != [lost], what="a new LISTEN")
        # Listening again, it passes at once for whatever was rung while it was deaf.
        wait_until(lambda: gateway.stats["dispatch_passes"] == 2, what="the pass after reconnecting")
        command = _open_door(world, row)
        wait_until(lambda: device.commands(), timeout=PROMPT_S, what="the command after the reconnect")
        assert [c["id"] for c in device.commands()] == [str(command.pk)]
        assert (gateway.stats["wakeup_reconnects"], gateway.stats["wakeup_connect_failures"]) == (1, 0)
    finally:
        gateway.stop()
