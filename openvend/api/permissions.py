from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from openvend.core.models import permission_name

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class RolePermission(BasePermission):
    """Checks the role permission for the request's action on the view's model.

    A view may name a different action for one endpoint with `permission_actions`
    (e.g. {"freeze": "freeze"} for POST /users/{id}/freeze/). Which rows the caller
    can reach is decided separately by `restrict()` in the view's queryset.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        model = getattr(view, "permission_model", None) or getattr(
            getattr(view, "queryset", None), "model", None
        )
        if model is None:
            return True
        custom = getattr(view, "permission_actions", {}).get(getattr(view, "action", None))
        action = custom or METHOD_ACTIONS.get(request.method or "GET", "view")
        return bool(user.has_perm(permission_name(model, action)))
