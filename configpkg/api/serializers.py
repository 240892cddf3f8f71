"""Serializers of the configuration package and coalition library API."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import SharedTemplate
from ..services import GEOMETRY_MODES


@extend_schema_field(OpenApiTypes.OBJECT)
class ObjectField(serializers.JSONField):
    """A JSON object (not a list, string or number)."""

    default_error_messages = {"not_object": "Give a JSON object, not {kind}."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object", kind=type(value).__name__)
        return value


class ImportOptionsSerializer(serializers.Serializer):
    """How to import: dry run (the default) or apply, and what to do with geometry and secrets."""

    dry_run = serializers.BooleanField(
        default=True,
        help_text="true (default): check and report, change nothing. false: apply, all or nothing.",
    )
    geometry = serializers.ChoiceField(
        choices=GEOMETRY_MODES,
        default="keep",
        help_text=(
            "keep: use the package's area geometry; omit: ignore it (existing areas keep their shape, new "
            "areas need a replacement under 'geometries' or are skipped)."
        ),
    )
    geometries = serializers.DictField(
        child=ObjectField(),
        required=False,
        default=dict,
        help_text="Replacement geometry per area slug (GeoJSON Polygon/MultiPolygon, WGS84); wins always.",
    )
    settings = serializers.BooleanField(
        default=True,
        help_text="false: keep this tenant's own settings (time zone, retention, map, public page).",
    )
    secrets = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField(max_length=4096)),
        required=False,
        default=dict,
        help_text='Secrets per source slug, e.g. {"panel": {"api_key": "..."}}. Never exported.',
    )


class ConfigImportSerializer(ImportOptionsSerializer):
    """A configuration package to import, with the import options."""

    package = ObjectField(
        help_text="A csm-config-package document (see /api/v1/schemas/config-package.json)."
    )


class InstantiateSerializer(ImportOptionsSerializer):
    """A library template to instantiate in this tenant, with the import options."""

    settings = serializers.BooleanField(
        default=False,
        help_text="true: take the template's settings too (time zone, retention, map, public page).",
    )
    template = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, help_text="Id of the template (GET /api/v1/library/)."
    )


class ImportProblemSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path in the package, e.g. alert_rules[3].area.")
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    """What an import did (or would do): an action per object and every problem found."""

    dry_run = serializers.BooleanField()
    applied = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField())
    objects = serializers.ListField(
        child=serializers.DictField(),
        help_text="{section, key, path, action: created|changed|unchanged|skipped, changes, reason}",
    )
    secrets_required = serializers.ListField(child=serializers.DictField())
    warnings = serializers.ListField(child=serializers.CharField())
    errors = ImportProblemSerializer(many=True)
    provenance = serializers.DictField()


class PublishSerializer(serializers.Serializer):
    """Publish this tenant's configuration to the coalition library."""

    slug = serializers.SlugField(
        max_length=80, help_text="Publishing the same slug again raises the version."
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, max_length=20
    )
    include_geometry = serializers.BooleanField(
        default=True, help_text="false: leave the area geometry out; importers draw their own."
    )


class SharedTemplateSerializer(serializers.ModelSerializer):
    """A template in the coalition library with its provenance (who shared it, which version, when)."""

    publisher = serializers.SerializerMethodField()

    class Meta:
        model = SharedTemplate
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "tags",
            "version",
            "format_version",
            "includes_geometry",
            "summary",
            "publisher",
            "published_by",
            "first_published_at",
            "published_at",
        ]
        read_only_fields = fields

    def get_publisher(self, template) -> dict:
        return {"slug": template.publisher_slug, "name": template.publisher_name}


class SharedTemplateDetailSerializer(SharedTemplateSerializer):
    """A template with its whole package."""

    package = serializers.JSONField(read_only=True)

    class Meta(SharedTemplateSerializer.Meta):
        fields = [*SharedTemplateSerializer.Meta.fields, "package"]
        read_only_fields = fields
