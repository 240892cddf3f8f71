"""Admin of the sharing app: agreements are read-only here; their steps go through the API and pages."""

from django.contrib import admin

from .models import SharingAgreement


@admin.register(SharingAgreement)
class SharingAgreementAdmin(admin.ModelAdmin):
    list_display = ("id", "provider", "recipient", "state", "valid_from", "valid_to")
    list_filter = ("state",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.get_fields() if f.concrete]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
