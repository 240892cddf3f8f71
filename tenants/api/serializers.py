"""Serializers of the tenants API."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ..choices import Role
from ..models import Membership, Tenant

User = get_user_model()


class TenantSerializer(serializers.ModelSerializer):
    """A tenant and the caller's role in it."""

    role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "slug",
            "name",
            "kind",
            "time_zone",
            "public_page_enabled",
            "retention_days",
            "small_count_threshold",
            "map_tile_url",
            "role",
        ]
        read_only_fields = ["slug", "kind", "role"]

    def get_role(self, tenant) -> str:
        roles = self.context.get("roles") or {}
        return roles.get(tenant.pk, "")


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    """A member of the tenant."""

    user = UserSummarySerializer(read_only=True)
    invited_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "is_active", "invited_by", "created_at", "updated_at"]
        read_only_fields = ["id", "user", "invited_by", "created_at", "updated_at"]


class MembershipInviteSerializer(serializers.Serializer):
    """Invite someone by e-mail; an account is created when none has this address."""

    email = serializers.EmailField()
    username = serializers.CharField(required=False, max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipInviteResultSerializer(MembershipSerializer):
    user_created = serializers.BooleanField(read_only=True)
    set_password_url = serializers.CharField(read_only=True, allow_null=True)

    class Meta(MembershipSerializer.Meta):
        fields = [*MembershipSerializer.Meta.fields, "user_created", "set_password_url"]


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class TokenRequestSerializer(serializers.Serializer):
    """Credentials for an API token; ``tenant`` limits the token to one tenant."""

    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    tenant = serializers.SlugField(required=False, help_text="Limit the token to this tenant.")
    name = serializers.CharField(required=False, max_length=100, allow_blank=True)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    tenant = serializers.CharField(allow_null=True)
