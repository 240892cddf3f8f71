"""Page views. Tenant pages run inside the tenant scope set by tenants.middleware.TenantPageMiddleware."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from tenants.choices import ROLE_CAPABILITIES
from tenants.selectors import memberships_of_user


@login_required
def home(request):
    """The tenants the user belongs to; straight to the tenant when there is only one."""
    memberships = memberships_of_user(user=request.user)
    if len(memberships) == 1 and not request.user.is_staff:
        return redirect("tenant-home", tenant=memberships[0].tenant.slug)
    return render(request, "frontend/home.html", {"memberships": memberships})


@login_required
def tenant_home(request, tenant):
    """Landing page of one tenant: who you are there and what you may do."""
    membership = request.membership
    return render(
        request,
        "frontend/tenant_home.html",
        {
            "tenant": request.tenant,
            "membership": membership,
            "capabilities": sorted(ROLE_CAPABILITIES.get(membership.role, ())),
            "memberships": memberships_of_user(user=request.user),
        },
    )
