"""Areas (permanent areas and temporary event zones), events, and the tenant's crowd-level bands."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

from .choices import AreaKind
from .levels import (
    DEFAULT_CAPACITY_BANDS,
    DEFAULT_DENSITY_BANDS,
    DEFAULT_FLOW_BANDS,
    FLOW_METHODS,
    CrowdAssessment,
    FlowAssessment,
    assess,
    assess_flow,
)


class CrowdLevelSettings(models.Model):
    """A tenant's own crowd-level bands, overriding the defaults for all its areas."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="crowd_level_settings")
    density_bands = models.JSONField(null=True, blank=True, help_text="Lower bounds in persons/m².")
    capacity_bands = models.JSONField(null=True, blank=True, help_text="Lower bounds in % of capacity.")
    flow_bands = models.JSONField(
        null=True, blank=True, help_text="Lower bounds in persons per minute per metre of counting line."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        verbose_name_plural = "crowd level settings"

    def __str__(self) -> str:
        return f"crowd levels of {self.tenant}"


class Event(models.Model):
    """An event (King's Day, a festival) that groups temporary zones for its duration."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    expected_attendance = models.PositiveIntegerField(null=True, blank=True)
    organiser = models.CharField(max_length=200, blank=True, help_text="The organising party.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["start", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="event_unique_slug"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="event_end_after_start"),
        ]

    def __str__(self) -> str:
        return self.name


class Area(models.Model):
    """A piece of geography whose crowding is watched: a boulevard section, a square, an event zone."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="areas")
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=AreaKind.choices, default=AreaKind.PERMANENT)
    geometry = models.JSONField(help_text="GeoJSON Polygon or MultiPolygon in WGS84, RFC 7946 orientation.")
    surface_m2 = models.FloatField(help_text="Geodesic surface of the geometry (WGS84 ellipsoid).")
    usable_surface_m2 = models.FloatField(
        null=True,
        blank=True,
        help_text="Usable part of the surface, when less than the whole (beach minus sea).",
    )
    capacity = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(10_000_000)]
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    tag_index = models.CharField(
        max_length=1000, blank=True, editable=False, help_text="|tag|tag| for filtering"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.PROTECT, related_name="zones")
    density_bands = models.JSONField(null=True, blank=True)
    capacity_bands = models.JSONField(null=True, blank=True)
    flow_bands = models.JSONField(null=True, blank=True, help_text="Lower bounds in persons/min/m.")
    flow_method = models.CharField(
        max_length=10,
        choices=[(m, m) for m in FLOW_METHODS],
        default="fruin",
        help_text=(
            "How passer-by counts become a level: 'fruin' (flow bands, Fruin walkway levels of service) or "
            "'weidmann' (a density estimate from Weidmann's fundamental diagram, density bands)."
        ),
    )
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    centroid_lon = models.FloatField()
    centroid_lat = models.FloatField()
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="area_unique_slug"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gt=models.F("valid_from")),
                name="area_valid_window",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "min_lon", "max_lon", "min_lat", "max_lat"], name="area_bbox")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_surface_m2(self) -> float:
        """The surface densities are computed on: the usable part where set."""
        return self.usable_surface_m2 or self.surface_m2

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def effective_bands(self, tenant_settings: CrowdLevelSettings | None) -> tuple[dict, dict]:
        """(density bands, capacity bands) in force: the area's own, else the tenant's, else the defaults."""
        density = (
            self.density_bands or (tenant_settings and tenant_settings.density_bands) or DEFAULT_DENSITY_BANDS
        )
        capacity = (
            self.capacity_bands
            or (tenant_settings and tenant_settings.capacity_bands)
            or DEFAULT_CAPACITY_BANDS
        )
        return density, capacity

    def effective_flow_bands(self, tenant_settings: CrowdLevelSettings | None) -> dict:
        """Flow bands in force (persons/min/m): the area's own, else the tenant's, else Fruin's."""
        return self.flow_bands or (tenant_settings and tenant_settings.flow_bands) or DEFAULT_FLOW_BANDS

    def assess_people(self, people: float, tenant_settings: CrowdLevelSettings | None) -> CrowdAssessment:
        """The level of ``people`` present in this area: the one place that says it."""
        density_bands, capacity_bands = self.effective_bands(tenant_settings)
        return assess(
            people,
            surface_m2=self.effective_surface_m2,
            capacity=self.capacity,
            density_bands=density_bands,
            capacity_bands=capacity_bands,
        )

    def assess_flow(self, flow: float, tenant_settings: CrowdLevelSettings | None) -> FlowAssessment:
        """The level of a passer-by flow (persons/min/m) through this area's counting lines."""
        return assess_flow(
            flow,
            method=self.flow_method,
            flow_bands=self.effective_flow_bands(tenant_settings),
            density_bands=self.effective_bands(tenant_settings)[0],
        )

    def level_of(self, value: float, tenant_settings: CrowdLevelSettings | None, quantity: str = "people"):
        """The level of a value of ``quantity`` ("people" present, or "flow" in persons/min/m)."""
        if quantity == "flow":
            return self.assess_flow(value, tenant_settings).level
        return self.assess_people(value, tenant_settings).level


class PanelCalibration(models.Model):
    """Fitted ratio between a GPS visitor panel series and the direct counts of the same area."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="calibrations")
    series = models.ForeignKey("sources.Series", on_delete=models.CASCADE, related_name="calibrations")
    ratio = models.FloatField(help_text="People counted per visitor the panel estimates.")
    points = models.PositiveIntegerField(help_text="Hours with both panel and counts used for the fit.")
    r2 = models.FloatField(null=True, blank=True)
    fitted_at = models.DateTimeField()

    objects = TenantScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["area", "series"], name="calibration_unique")]

    def __str__(self) -> str:
        return f"{self.series} x {self.ratio:.2f} for {self.area}"


class AreaForecast(models.Model):
    """Hourly expected people in an area for the next hours, with an 80 % interval and the model's record."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="forecasts")
    issued_at = models.DateTimeField(help_text="Forecast origin: information up to this time was used.")
    method = models.CharField(max_length=40, help_text="gradient_boosting, hour_of_week_profile, ...")
    model_version = models.CharField(max_length=100, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    accuracy = models.JSONField(
        default=dict, blank=True, help_text="Backtest per horizon against seasonal naive."
    )
    note = models.TextField(blank=True, help_text="Why this method, what it knows, what it lacks.")
    points = models.JSONField(default=list, help_text="[{time, p10, p50, p90, level, level_p90}, ...] hourly")
    quantity = models.CharField(
        max_length=10,
        default="people",
        help_text="What the values are: 'people' present, or 'flow' in persons per minute per metre of line.",
    )
    record = models.JSONField(
        default=dict,
        blank=True,
        help_text="How this area's forecasts 3 h ahead did on the model's holdout (the last 4 weeks): "
        "{horizon, hours, days, within, mae, coverage_80}; within = 80th percentile of the absolute error.",
    )
    trust = models.JSONField(
        default=dict,
        blank=True,
        help_text="{ok: true}, or {ok: false, reason: too_little_data | no_recent_counts | stuck_counts, "
        "since, hours}: then the forecast is not shown and raises no alert. {}: not assessed (shown).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["area", "-issued_at"], name="forecast_latest")]

    def __str__(self) -> str:
        return f"forecast {self.area} @ {self.issued_at:%Y-%m-%d %H:%M}"


class ForecastModel(models.Model):
    """A tenant's trained forecasting model (serialised), with its version, training time and backtest."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    version = models.CharField(max_length=100)
    trained_at = models.DateTimeField()
    accuracy = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    blob = models.BinaryField(
        help_text="Serialised model (trusted: written only by the platform's own task)."
    )
    series_count = models.PositiveIntegerField(default=0)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-trained_at"]

    def __str__(self) -> str:
        return f"{self.tenant} model {self.version}"


class BuildingLayer(models.Model):
    """A tenant's building footprints with heights, drawn as blocks on the 3D map (one layer per tenant)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="building_layer")
    geojson = models.JSONField(
        help_text="FeatureCollection of Polygon/MultiPolygon footprints (WGS84) with properties.height (m)."
    )
    feature_count = models.PositiveIntegerField(default=0)
    bbox = models.JSONField(null=True, blank=True, help_text="[min_lon, min_lat, max_lon, max_lat]")
    uploaded_at = models.DateTimeField()

    objects = TenantScopedManager()

    def __str__(self) -> str:
        return f"{self.feature_count} buildings of {self.tenant}"
