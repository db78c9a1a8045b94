"""Phone pages under /m/: stock-taking by scan (扫码盘点)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
