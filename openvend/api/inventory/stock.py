"""REST resources for the stock ledger and stock-takes."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
