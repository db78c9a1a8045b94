"""A stocked cabinet (cola 350 fen at this device, chips 600 fen, 10 of each), a Mosquitto broker
that can be restarted, the gateway in this process or as `openvend gateway` children, and the WeChat
sandbox with a shopper who has authorised payscore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openvend.core.crypto import encrypt
from openvend.devices.services import device_credentials_rotate
from openvend.gateway.runner import Gateway, GatewayConfig
from openvend.payments.choices import AuthorisationState, GatewayMode, PaymentMethod, Provider
from openvend.payments.models import (
    MerchantPaymentConfig,
    PayAfterAuthorisation,
    ProviderAccount,
    SitePaymentMethod,
)
from openvend.payments.services.authorisations import start_authorisation
from openvend.sandbox.wechat import WeChatSandbox
from tests.faults.broker import RestartableMosquitto, start_mosquitto
from tests.faults.devices import wait_until
from tests.faults.invariants import StockBaseline, stock_baseline
from tests.faults.processes import OpenVendProcess
from tests.orders.conftest import Store, store_in
from tests.payments.wechat.conftest import (
    SERVICE_ID,
    SHOPPER,
    SP_MCHID,
    SUB_APPID,
    SUB_MCHID,
    agree_permission,
)
from tests.world import World


@pytest.fixture
def store(world_a: World) -> Store:
    return store_in(world_a, "FLT-CAB1")


@pytest.fixture
def baseline(store: Store) -> StockBaseline:
    return stock_baseline()


@pytest.fixture
def broker(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[RestartableMosquitto]:
    server = start_mosquitto(tmp_path, settings)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def device_secret(store: Store, broker: RestartableMosquitto) -> str:
    """The cabinet's broker password, issued now and loaded into the broker."""
    secret = device_credentials_rotate(actor=None, device=store.device)
    broker.sync()
    return secret


@pytest.fixture
def gateway(broker: RestartableMosquitto) -> Iterator[Gateway]:
    """The gateway's threads in this process (each with its own database connection)."""
    config = GatewayConfig(
        url=broker.url,
        username=broker.username,
        password=broker.gateway_password,
        dispatch_every_s=0.05,
        sweep_every_s=60,
    )
    running = Gateway(config).start()
    yield running
    running.stop()


@pytest.fixture
def spawn(broker: RestartableMosquitto, tmp_path: Path) -> Iterator[Callable[..., OpenVendProcess]]:
    """Start `openvend <args>` on the test database and broker; `tasks="database"` sends settling and
    charging through the task queue (to `openvend worker`) instead of running them in the gateway."""
    started: list[OpenVendProcess] = []

    def run(*args: str, tasks: str = "immediate") -> OpenVendProcess:
        env = {
            "FAULTS_MQTT_URL": broker.url,
            "FAULTS_GATEWAY_PASSWORD": broker.gateway_password,
            "FAULTS_TASKS": tasks,
        }
        process = OpenVendProcess(list(args), tmp_path / f"{args[0]}-{len(started)}.log", env).start()
        started.append(process)
        return process

    yield run
    for process in started:
        process.stop()


@pytest.fixture
def wechat(live_server: Any, world_a: World, store: Store) -> Iterator[WeChatSandbox]:
    """The WeChat sandbox serving world A's sub-merchant; notifications go to the live server."""
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    sandbox.add_sub_merchant(SUB_MCHID, SUB_APPID, SERVICE_ID)
    creds = sandbox.provision_merchant(SP_MCHID)
    ProviderAccount.objects.create(
        provider=Provider.WECHAT,
        base_url=creds["base_url"],
        mch_id=creds["mch_id"],
        app_id=creds["app_id"],
        key_serial_no=creds["key_serial_no"],
        private_key_enc=encrypt(creds["private_key_pem"]),
        api_key_enc=encrypt(creds["api_key"]),
        oauth_secret_enc=encrypt(creds["oauth_secret"]),
        gateway_mode=GatewayMode.PUBLIC_KEY,
        gateway_public_key=creds["gateway_public_key_pem"],
        gateway_public_key_id=creds["gateway_public_key_id"],
        payscore_service_id=SERVICE_ID,
        notify_url=f"{live_server.url}/pay/notify/wechat/",
    )
    MerchantPaymentConfig.objects.create(
        merchant=world_a.merchant, wechat_sub_mchid=SUB_MCHID, wechat_sub_appid=SUB_APPID
    )
    SitePaymentMethod.objects.create(
        merchant=world_a.merchant, site=store.device.site, method=PaymentMethod.WECHAT_JSAPI
    )
    yield sandbox
    sandbox.control(notification="none")
    sandbox.courier.wait_idle(5)
    sandbox.stop()


@pytest.fixture
def payscore_shopper(wechat: WeChatSandbox, store: Store, world_a: World) -> Any:
    """A shopper whose payscore authorisation is active, with ¥20 at WeChat."""
    shopper = store.shopper()
    authorisation, next_action = start_authorisation(
        merchant=world_a.merchant,
        consumer=shopper,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id=SHOPPER,
        return_url="https://h5.example.com/auth-done",
    )
    assert agree_permission(next_action["confirm_url"]).status_code == 302
    wait_until(
        lambda: PayAfterAuthorisation.objects.get(pk=authorisation.pk).state == AuthorisationState.ACTIVE,
        what="the payscore authorisation",
    )
    wechat.set_balance(SHOPPER, 2000)
    return shopper
