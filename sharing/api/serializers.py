"""Serializers of the sharing API: agreements (as each side sees them), offers and the shared picture."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import AwareDateTimeField

from ..choices import ShareKind
from ..models import JointOperation, SharingAgreement
from ..selectors import agreement_area_names, operation_on_duty, operation_participants


class PartySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()


class OperationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class AgreementSerializer(serializers.ModelSerializer):
    """An agreement as the requesting tenant sees it. People are named only to their own organisation: the
    other side sees the organisation, never its users."""

    provider = PartySerializer(read_only=True)
    recipient = PartySerializer(read_only=True)
    side = serializers.SerializerMethodField(
        help_text="'provider' or 'recipient': the requesting tenant's side."
    )
    status = serializers.SerializerMethodField(
        help_text="offered, scheduled, active, expired, declined or ended (data flows only while active)."
    )
    areas = serializers.SerializerMethodField(
        help_text="The shared areas now (selection and tag). The recipient sees them while the agreement is "
        "offered, scheduled or active."
    )
    offered_by = serializers.SerializerMethodField()
    responded_by = serializers.SerializerMethodField()
    ended_by = serializers.SerializerMethodField()
    ended_by_tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    operation = serializers.SerializerMethodField(
        help_text="The joint operation an operation agreement belongs to (then ``recipient`` is null: it "
        "shares with every participant)."
    )

    class Meta:
        model = SharingAgreement
        fields = [
            "id", "provider", "recipient", "operation", "side", "status", "state", "areas", "area_tag",
            "kinds", "valid_from", "valid_to", "purpose", "token_access", "offered_at", "offered_by",
            "responded_at", "responded_by", "ended_at", "ended_by", "ended_by_tenant", "end_reason",
        ]  # fmt: skip
        read_only_fields = fields

    def _tenant(self):
        return self.context["request"].tenant

    @extend_schema_field(OperationRefSerializer(allow_null=True))
    def get_operation(self, obj) -> dict | None:
        if obj.operation_id is None:
            return None
        return {"id": obj.operation_id, "slug": obj.operation.slug, "name": obj.operation.name}

    def get_side(self, obj) -> str:
        return obj.side(self._tenant())

    def get_status(self, obj) -> str:
        return obj.status()

    @extend_schema_field(serializers.ListField(child=serializers.DictField(child=serializers.CharField())))
    def get_areas(self, obj) -> list[dict]:
        if obj.side(self._tenant()) == "recipient" and obj.status() not in ("offered", "scheduled", "active"):
            return []
        return agreement_area_names(obj)

    def _own_user(self, obj, user, tenant_id) -> str | None:
        if user is None or tenant_id != self._tenant().pk:
            return None
        return user.get_username()

    def get_offered_by(self, obj) -> str | None:
        return self._own_user(obj, obj.offered_by, obj.provider_id)

    def get_responded_by(self, obj) -> str | None:
        return self._own_user(obj, obj.responded_by, obj.recipient_id)

    def get_ended_by(self, obj) -> str | None:
        return self._own_user(obj, obj.ended_by, obj.ended_by_tenant_id)


class AgreementOfferSerializer(serializers.Serializer):
    """An offer: to whom, which areas (slugs, and/or a tag), which kinds of data, when and why."""

    recipient = serializers.SlugField(help_text="Slug of the receiving tenant.")
    areas = serializers.ListField(
        child=serializers.SlugField(), required=False, default=list, max_length=1000
    )
    area_tag = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=ShareKind.choices),
        min_length=1,
        max_length=len(ShareKind.values),
    )
    valid_from = AwareDateTimeField(required=False, allow_null=True, help_text="Default: now.")
    valid_to = AwareDateTimeField(required=False, allow_null=True, help_text="Empty: open-ended.")
    purpose = serializers.CharField(max_length=2000)
    token_access = serializers.BooleanField(required=False, default=False)


class AgreementStepSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SharedItemSerializer(serializers.Serializer):
    """What every shared item carries: whose it is and through which agreement it is shown."""

    owner = serializers.CharField(help_text="Slug of the organisation that owns the area.")
    owner_name = serializers.CharField()
    agreement = serializers.IntegerField()


class SharedAlertSerializer(SharedItemSerializer):
    """An alert of the provider in a shared area: what, where, when; never who."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    level = serializers.CharField()
    message = serializers.CharField()
    area = serializers.CharField()
    area_name = serializers.CharField()
    opened_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)


class SharedActionSerializer(SharedItemSerializer):
    """An action-log entry of the provider for shared areas, attributed to its organisation."""

    id = serializers.IntegerField()
    organisation = serializers.CharField()
    intervention = serializers.CharField()
    description = serializers.CharField()
    areas = serializers.ListField(child=serializers.CharField(), help_text="Only the shared areas it names.")
    status = serializers.CharField()
    planned_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class SharedSeriesSerializer(SharedItemSerializer):
    """A counter's series in a shared area with its latest value; never the source's URL or credentials."""

    id = serializers.IntegerField()
    area = serializers.CharField()
    name = serializers.CharField()
    metric = serializers.CharField()
    unit = serializers.CharField()
    lon = serializers.FloatField(allow_null=True)
    lat = serializers.FloatField(allow_null=True)
    latest_time = serializers.DateTimeField(allow_null=True)
    latest_value = serializers.FloatField(allow_null=True)


class SharedForecastSerializer(SharedItemSerializer):
    """The latest stored forecast of a shared area: hourly p10/p50/p90 and levels. ``trust`` as in the
    owner's own forecast: when it is not ``ok`` the points are left out and the reason is given."""

    area = serializers.CharField()
    area_name = serializers.CharField()
    issued_at = serializers.DateTimeField()
    method = serializers.CharField()
    quantity = serializers.CharField()
    trust = serializers.DictField()
    points = serializers.ListField(child=serializers.DictField())


# --- joint operations --------------------------------------------------------------------------------


class ParticipantSerializer(serializers.Serializer):
    tenant = PartySerializer()
    role = serializers.CharField()
    state = serializers.CharField(help_text="invited, joined, declined or left")


class OperationSerializer(serializers.ModelSerializer):
    """A joint operation as a participant sees it: lead, window, participants and the caller's own part."""

    lead = PartySerializer(read_only=True)
    status = serializers.SerializerMethodField(help_text="planned, running or over")
    participants = serializers.SerializerMethodField()
    my_state = serializers.SerializerMethodField(help_text="The requesting tenant's state in the operation.")
    on_duty = serializers.SerializerMethodField(help_text="The requesting tenant's members on duty.")

    class Meta:
        model = JointOperation
        fields = [
            "id", "slug", "name", "description", "lead", "starts_at", "ends_at", "closed_at", "status",
            "public_page", "participants", "my_state", "on_duty", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, obj) -> str:
        return obj.status()

    @extend_schema_field(ParticipantSerializer(many=True))
    def get_participants(self, obj) -> list[dict]:
        return ParticipantSerializer(operation_participants(obj), many=True).data

    def get_my_state(self, obj) -> str | None:
        tenant = self.context["request"].tenant
        return next((p.state for p in operation_participants(obj) if p.tenant_id == tenant.pk), None)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_on_duty(self, obj) -> list[str]:
        return operation_on_duty(obj, tenant=self.context["request"].tenant)


class OperationCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()
    public_page = serializers.BooleanField(required=False, default=False)
    invite = serializers.ListField(
        child=serializers.SlugField(), required=False, default=list, max_length=100,
        help_text="Slugs of the tenants to invite.",
    )  # fmt: skip


class OperationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    starts_at = AwareDateTimeField(required=False)
    ends_at = AwareDateTimeField(required=False)
    public_page = serializers.BooleanField(required=False)


class OperationInviteSerializer(serializers.Serializer):
    tenant = serializers.SlugField(help_text="Slug of the tenant to invite.")
    role = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class OperationContributeSerializer(serializers.Serializer):
    """Areas of the caller's own tenant to bring into the operation, and what of them to share."""

    areas = serializers.ListField(
        child=serializers.SlugField(), required=False, default=list, max_length=1000
    )
    area_tag = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=ShareKind.choices),
        min_length=1,
        max_length=len(ShareKind.values),
    )


class OperationDutySerializer(serializers.Serializer):
    on_duty = serializers.BooleanField()


class OperationLogOutcomeSerializer(serializers.Serializer):
    area = serializers.CharField()
    method = serializers.CharField()
    effect_pct = serializers.FloatField(allow_null=True)


class OperationLogEntrySerializer(serializers.Serializer):
    """An entry of the common action log, attributed to its organisation and author."""

    id = serializers.IntegerField()
    organisation = serializers.CharField()
    tenant = serializers.CharField()
    author = serializers.CharField()
    intervention = serializers.CharField()
    description = serializers.CharField()
    areas = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    planned_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    outcomes = OperationLogOutcomeSerializer(many=True)
