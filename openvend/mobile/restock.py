"""Phone pages under /m/: free replenishment (自由补货) and pick lists for replenishers."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
