from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """After sign-in the user's language (or their merchant's default) wins over the browser's
    Accept-Language, unless they picked one with the language switch (Django's language cookie)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
        ):
            language = user.preferred_language
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class ActiveAccountMiddleware:
    """Ends the session of a user who was frozen, or whose merchant was frozen, while signed in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            merchant = user.merchant if user.merchant_id else None
            if not user.is_active or (merchant is not None and not merchant.is_operating):
                logout(request)
        return self.get_response(request)
