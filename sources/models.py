"""Sources of data, the series they feed, and the observation store (aggregated values only)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

from .choices import Metric


class Source(models.Model):
    """A configured feed of one tenant: a counting camera, a parking feed, a weather station..."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sources")
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, help_text="Connector kind, e.g. 'parking' or 'counting_camera'.")
    config = models.JSONField(
        default=dict, blank=True, help_text="Validated against the connector's JSON Schema."
    )
    secrets_encrypted = models.TextField(blank=True, editable=False, help_text="Fernet-encrypted JSON.")
    poll_interval = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(10), MaxValueValidator(86_400)], help_text="Seconds."
    )
    enabled = models.BooleanField(default=True)
    areas = models.ManyToManyField("areas.Area", blank=True, related_name="sources")
    owner = models.CharField(
        max_length=200, blank=True, help_text="Who runs the sensor or feed (public register)."
    )
    purpose = models.TextField(blank=True, help_text="Why the data is collected (public register).")
    state = models.JSONField(
        default=dict, blank=True, help_text="Connector cursor, e.g. the last time fetched."
    )
    # scheduling
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    last_completed_due_at = models.DateTimeField(null=True, blank=True)
    # health
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    last_data_at = models.DateTimeField(null=True, blank=True, help_text="Time of the newest observation.")
    last_warnings = models.JSONField(
        default=list, blank=True, help_text="Warnings of the last successful fetch."
    )
    empty_fetches = models.PositiveIntegerField(
        default=0, help_text="Successful fetches in a row that brought no observation (status 'no_data')."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="source_unique_slug")]
        indexes = [models.Index(fields=["enabled", "next_due_at"], name="source_due")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Series(models.Model):
    """One measured quantity of a source: a camera's count, a garage's vacant spaces, a station's rain."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="series")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="series")
    key = models.CharField(max_length=200, help_text="Unique within the source, e.g. the vendor's sensor id.")
    name = models.CharField(max_length=200, blank=True)
    metric = models.CharField(max_length=40, choices=Metric.choices)
    unit = models.CharField(max_length=20, blank=True)
    area = models.ForeignKey(
        "areas.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="series"
    )
    facility = models.CharField(max_length=200, blank=True, help_text="Site, garage, stop or station id.")
    lon = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
        help_text="Longitude (WGS84) of the sensor, stop, garage or station, when known.",
    )
    lat = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text="Latitude (WGS84), set together with lon.",
    )
    line_width_m = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1), MaxValueValidator(1000)],
        help_text=(
            "Width in metres of the counting line a people_passing series counts across (the effective "
            "walkway width): turns people per minute into people per minute per metre."
        ),
    )
    latest_time = models.DateTimeField(null=True, blank=True)
    latest_value = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["source", "key"]
        verbose_name_plural = "series"
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="series_unique_key")]

    def __str__(self) -> str:
        return f"{self.source.name}: {self.key} ({self.metric})"

    @property
    def location(self) -> tuple[float, float] | None:
        """(lon, lat) when both are set."""
        return (self.lon, self.lat) if self.lon is not None and self.lat is not None else None


class Observation(models.Model):
    """One value of a series at one time. (series, time) is unique: the first write wins."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="observations", db_index=False)
    time = models.DateTimeField()
    value = models.FloatField()

    objects = TenantScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "time"], name="observation_unique_time")]
        indexes = [models.Index(fields=["tenant", "time"], name="observation_tenant_time")]

    def __str__(self) -> str:
        return f"{self.series_id} @ {self.time.isoformat()} = {self.value}"
