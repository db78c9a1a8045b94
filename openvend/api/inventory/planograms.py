"""REST resources for planograms and vending tracks."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Add this area's resources to the API router."""
