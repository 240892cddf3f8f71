"""Serializers of the tenants API."""

from datetime import datetime

from django.contrib.auth import get_user_model
from rest_framework import serializers

from core.fields import AwareDateTimeField

from .. import lockout
from ..choices import Role
from ..models import AuditEntry, AuditResult, Membership, Tenant

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
            "mfa_required_for_all",
            "audit_retention_days",
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
    locked_until = serializers.SerializerMethodField(
        help_text="When the member's log-in lock-out ends (too many failed attempts); null when not locked."
    )

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "is_active", "invited_by", "created_at", "updated_at", "locked_until"]
        read_only_fields = ["id", "user", "invited_by", "created_at", "updated_at"]

    def get_locked_until(self, membership) -> datetime | None:
        return lockout.locked_until(username=membership.user.get_username())


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

    # As long as a username can be: a longer one is a 400 before any lookup or failed-login record.
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    tenant = serializers.SlugField(required=False, help_text="Limit the token to this tenant.")
    name = serializers.CharField(required=False, max_length=100, allow_blank=True)
    otp = serializers.CharField(
        required=False,
        max_length=16,
        help_text=(
            "The current code of your authenticator app (or a backup code): required for accounts with "
            "two-factor authentication (tenant admins, and every member of tenants that require it)."
        ),
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    tenant = serializers.CharField(allow_null=True)


class AuditEntrySerializer(serializers.ModelSerializer):
    """One entry of the audit trail (times in UTC)."""

    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_label",
            "result",
            "ip_address",
            "user_agent",
            "request_id",
            "details",
        ]
        read_only_fields = fields


class AuditQuerySerializer(serializers.Serializer):
    """Filters of the audit trail; ``format=csv`` downloads every matching entry (itself audited)."""

    action = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Dotted prefix: 'member' finds member.invite, member.update…",
    )
    actor = serializers.CharField(required=False, max_length=150, help_text="User name (or 'system').")
    result = serializers.ChoiceField(choices=AuditResult.choices, required=False)
    since = AwareDateTimeField(required=False, help_text="From this time (inclusive), ISO 8601 with zone.")
    until = AwareDateTimeField(required=False, help_text="Before this time (exclusive), ISO 8601 with zone.")
    object_type = serializers.CharField(required=False, max_length=100)
    object_id = serializers.CharField(required=False, max_length=64)
    format = serializers.ChoiceField(choices=["json", "csv"], default="json")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["'until' must be later than 'since'."]})
        return attrs
