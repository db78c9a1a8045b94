from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests import services
from tests.shared_sqlite import one_thread_at_a_time
from tests.world import World, build_world


def _require(name: str, value: str | None) -> str:
    if value is None:
        if services.ci_mode():
            pytest.fail(f"{name} is required when CI=true but is not reachable.", pytrace=False)
        pytest.skip(f"{name} is not reachable here.")
    return value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A test with a live server on SQLite shares its connection with the server's threads."""
    from django.db import connection

    if "live_server" not in getattr(item, "fixturenames", ()) or connection.vendor != "sqlite":
        yield
        return
    with one_thread_at_a_time():
        yield


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _require("Redis", services.redis_url())


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    return _require("An MQTT broker", services.mqtt_url())


@pytest.fixture(scope="session")
def chromium() -> str:
    return _require("Debian's chromium", services.chromium_path())


@pytest.fixture
def world_a(db) -> World:
    return build_world("alpha", "阿尔法零售")


@pytest.fixture
def world_b(db) -> World:
    return build_world("beta", "Beta Retail", language="en")


@pytest.fixture
def platform_admin(db):
    from tests.world import platform_user

    return platform_user("platform_admin")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def console_login(client, username: str, password: str, console: str = "/console/") -> bool:
    """Sign in through the console's real login form (the path axes and the audit log watch)."""
    response = client.post(f"{console}login/", {"username": username, "password": password, "next": console})
    return response.status_code == 302 and response.url == console


@pytest.fixture
def settled(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run a block and then everything it scheduled after commit (settling, the charge task)."""

    def run(action: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run
