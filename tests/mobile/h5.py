"""Shared steps of the shopping-page tests: a signed-in shopper's client and the URLs a device's QR
code leads to."""

from __future__ import annotations

from typing import Any

from django.test import Client

from openvend.devices.services import device_qr_token
from openvend.mobile.consumer.session import SESSION_KEY
from tests.payments.consumer.conftest import in_english


def signed_in(consumer: Any) -> Client:
    """A phone on which `consumer` is signed in (as the OAuth callback leaves it), pages in English."""
    client = in_english(Client())
    session = client.session
    session[SESSION_KEY] = consumer.pk
    session.save()
    return client


def scan_url(device: Any, flow: str | None = None) -> str:
    return f"/m/c/{device.merchant.code}/scan/{device_qr_token(device, flow)}/"


def visit_url(session: Any) -> str:
    return f"/m/c/{session.merchant.code}/visits/{session.pk}/"


def receipt_url(order: Any) -> str:
    return f"/m/c/{order.merchant.code}/receipts/{order.number}/"
