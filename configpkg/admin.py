"""Platform staff see and withdraw library templates in the Django admin."""

from django.contrib import admin

from .models import SharedTemplate


@admin.register(SharedTemplate)
class SharedTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "version", "publisher_name", "published_by", "published_at"]
    search_fields = ["name", "slug", "publisher_name"]
    readonly_fields = ["package", "summary", "first_published_at", "published_at"]
