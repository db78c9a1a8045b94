"""Phone-sized pages for staff on the move. Later capabilities add their pages under /m/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from openvend.consoles.sites import MerchantLoginForm
from openvend.merchants.models import Site


class MobileLoginView(LoginView):
    template_name = "mobile/login.html"
    authentication_form = MerchantLoginForm
    redirect_authenticated_user = True
    next_page = "mobile:home"


@login_required(login_url="mobile:login")
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    sites = Site.objects.restrict(user, "view").select_related("org_unit")[:50]
    roles = [role.display_name for role in user.roles.all()]
    return render(request, "mobile/home.html", {"sites": sites, "roles": roles})
