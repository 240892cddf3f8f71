"""Django admin for platform staff (runs unscoped for staff, see tenants.middleware)."""

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Area, CrowdLevelSettings, Event


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "tenant", "kind", "capacity", "surface_m2", "event", "archived_at"]
    list_filter = ["tenant", "kind"]
    search_fields = ["name", "slug"]
    readonly_fields = [
        "surface_m2",
        "min_lon",
        "min_lat",
        "max_lon",
        "max_lat",
        "centroid_lon",
        "centroid_lat",
    ]
    raw_id_fields = ["parent", "event"]


@admin.register(Event)
class EventAdmin(GuardedModelAdmin):
    list_display = ["name", "slug", "tenant", "start", "end", "expected_attendance"]
    list_filter = ["tenant"]
    search_fields = ["name", "slug"]


@admin.register(CrowdLevelSettings)
class CrowdLevelSettingsAdmin(admin.ModelAdmin):
    list_display = ["tenant", "density_bands", "capacity_bands", "updated_at"]
