"""Django admin for platform staff: onboard tenants and manage their members (runs unscoped for staff)."""

from django.contrib import admin

from .models import ApiToken, AuditEntry, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "tenant"
    extra = 1
    autocomplete_fields = ["user"]
    readonly_fields = ["invited_by", "created_at"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "public_page_enabled", "retention_days", "is_active"]
    list_filter = ["kind", "is_active", "public_page_enabled"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []  # the slug is in every URL and API client; it never changes

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else self.prepopulated_fields


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "user",
        "tenant",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["tenant"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["prefix", "key_hash", "user", "tenant", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are issued through the API, which shows the raw key once


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The whole trail for platform staff, including platform entries without a tenant; read-only."""

    list_display = ["created_at", "tenant", "actor_label", "action", "object_type", "object_id", "result",
                    "ip_address"]  # fmt: skip
    list_filter = ["result", "tenant"]
    search_fields = ["action", "actor_label", "object_label", "ip_address", "request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # append-only; the retention purge is the one way out
