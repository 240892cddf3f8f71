"""Request and response examples for the OpenAPI schema, keyed by operationId, applied by a hook.

Kept here rather than in ``extend_schema`` on every view so that the examples read as one coherent
story (the municipality of The Hague watching the Scheveningen seafront) and so that adding them
touches no app. ``tests/test_schema_examples.py`` checks every example against its operation's
schema and that every operation has a request example (when it takes a body), a success example and
documented 4xx responses, so a new endpoint without examples fails loudly.

Each entry: ``{"request": body, "responses": {"200": body, ...}}``. For the usual viewset operations
the entries are derived from one object per resource (``list`` pages it, ``create``/``update`` echo it).
"""

import copy

# --- Objects, as the API returns them ------------------------------------------------------------

T = "2026-07-04T14:05:00+02:00"  # a sunny Saturday afternoon on the boulevard

BEACH_POLYGON = {
    "type": "Polygon",
    "coordinates": [
        [
            [4.2605441, 52.1029371],
            [4.2620226, 52.102279],
            [4.267419, 52.1068758],
            [4.2725142, 52.1117713],
            [4.2755119, 52.114869],
            [4.2739442, 52.115444],
            [4.2709657, 52.1123655],
            [4.2659106, 52.1075078],
            [4.2605441, 52.1029371],
        ]
    ],
}
PIER_SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[4.2627, 52.1168], [4.2637, 52.1168], [4.2637, 52.1175], [4.2627, 52.1175], [4.2627, 52.1168]]
    ],
}
KURHAUS_BUILDING = {
    "type": "Polygon",
    "coordinates": [
        [
            [4.2753232, 52.1106333],
            [4.2762441, 52.1114431],
            [4.2767224, 52.1112369],
            [4.2758015, 52.1104271],
            [4.2753232, 52.1106333],
        ]
    ],
}

TENANT = {
    "slug": "den-haag",
    "name": "Gemeente Den Haag",
    "kind": "municipality",
    "time_zone": "Europe/Amsterdam",
    "public_page_enabled": True,
    "retention_days": 365,
    "small_count_threshold": 15,
    "map_tile_url": "",
    "role": "admin",
}
USER = {
    "id": 3,
    "username": "den-haag-operator",
    "email": "meldkamer@denhaag.nl",
    "first_name": "Sanne",
    "last_name": "de Vries",
}
MEMBER = {
    "id": 2,
    "user": USER,
    "role": "operator",
    "is_active": True,
    "invited_by": "den-haag-admin",
    "created_at": "2026-06-01T09:00:00+02:00",
    "updated_at": "2026-06-01T09:00:00+02:00",
    "locked_until": None,
}
AREA = {
    "id": 5,
    "slug": "strand-scheveningen",
    "name": "Beach in front of the boulevard",
    "description": "Scheveningen beach between the harbour and the pier, without the water line.",
    "kind": "permanent",
    "geometry": BEACH_POLYGON,
    "surface_m2": 209182.65,
    "usable_surface_m2": 167346.0,
    "effective_surface_m2": 167346.0,
    "capacity": None,
    "valid_from": None,
    "valid_to": None,
    "tags": ["beach"],
    "parent": None,
    "event": None,
    "density_bands": None,
    "capacity_bands": None,
    "flow_method": "fruin",
    "flow_bands": None,
    "archived": False,
    "bbox": [4.2605441, 52.102279, 4.2755119, 52.115444],
    "centroid": [4.2682011, 52.1088352],
    "created_at": "2026-05-01T10:00:00+02:00",
    "updated_at": "2026-05-01T10:00:00+02:00",
}
AREA_STATUS = {
    "people": 8412.0,
    "density": 0.05,
    "occupancy_pct": None,
    "flow": None,
    "flow_method": None,
    "basis": "density",
    "level": "quiet",
    "public_label": "quiet",
    "method": "counts",
    "trend": {"15m": "rising", "change_15m": 512.0, "60m": "rising", "change_60m": 1730.0},
    "as_of": "2026-07-04T12:05:00Z",
    "stale": False,
}
EVENT = {
    "id": 1,
    "slug": "koningsdag-2027",
    "name": "Koningsdag 2027 Scheveningen",
    "description": "King's Day festivities on the boulevard and the beach.",
    "start": "2027-04-27T08:00:00+02:00",
    "end": "2027-04-27T21:00:00+02:00",
    "expected_attendance": 60000,
    "organiser": "Stichting Koningsdag Den Haag",
    "organisers": ["den-haag-organiser"],
    "zones": ["koningsdag-podium-pier"],
    "created_at": "2027-02-01T10:00:00+01:00",
    "updated_at": "2027-02-01T10:00:00+01:00",
}
CROWD_LEVELS = {
    "density_bands": {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5},
    "capacity_bands": None,
    "effective_density_bands": {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5},
    "effective_capacity_bands": {"busy": 50, "very_busy": 75, "crowded": 90, "critical": 100},
    "flow_bands": None,
    "effective_flow_bands": {"busy": 33, "very_busy": 49, "crowded": 66, "critical": 82},
    "default_density_bands": {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5},
    "default_capacity_bands": {"busy": 50, "very_busy": 75, "crowded": 90, "critical": 100},
    "default_flow_bands": {"busy": 33, "very_busy": 49, "crowded": 66, "critical": 82},
    "levels": ["quiet", "busy", "very_busy", "crowded", "critical"],
    "public_labels": {
        "en": {
            "quiet": "quiet",
            "busy": "busy",
            "very_busy": "very busy",
            "crowded": "very busy, avoid",
            "critical": "very busy, avoid",
        },
        "nl": {
            "quiet": "rustig",
            "busy": "druk",
            "very_busy": "erg druk",
            "crowded": "erg druk, vermijd dit gebied",
            "critical": "erg druk, vermijd dit gebied",
        },
    },
}
HEALTH = {
    "status": "ok",
    "last_attempt_at": "2026-07-04T12:05:02Z",
    "last_success_at": "2026-07-04T12:05:02Z",
    "last_error_at": None,
    "last_error": "",
    "last_warnings": [],
    "empty_fetches": 0,
    "consecutive_failures": 0,
    "circuit": "closed",
    "circuit_open_until": None,
    "last_data_at": "2026-07-04T12:05:00Z",
    "lag_seconds": 2.0,
    "next_due_at": "2026-07-04T12:06:02Z",
}
SOURCE = {
    "id": 1,
    "slug": "telcameras-scheveningen",
    "name": "Counting cameras Scheveningen",
    "kind": "counting_camera",
    "config": {},
    "secrets_set": [],
    "poll_interval": 60,
    "enabled": True,
    "areas": ["boulevard"],
    "owner": "Gemeente Den Haag",
    "purpose": "Crowd levels on the boulevard, beach and pier.",
    "health": HEALTH,
    "created_at": "2026-05-01T10:00:00+02:00",
    "updated_at": "2026-05-01T10:00:00+02:00",
}
SERIES = {
    "id": 1,
    "source": "telcameras-scheveningen",
    "key": "cam-boulevard-haven",
    "name": "Camera boulevard, harbour section",
    "metric": "people_count",
    "unit": "",
    "area": "boulevard-haven",
    "facility": "",
    "lon": 4.2655,
    "lat": 52.1052,
    "latest_time": T,
    "latest_value": 412.0,
}
ALERT = {
    "id": 6,
    "kind": "manual",
    "state": "open",
    "level": "crowded",
    "message": "BOA team reports people queueing onto the tram track at the Kurhaus stop.",
    "area": "tramhaltes-kurhaus",
    "source": None,
    "rule": None,
    "details": {},
    "opened_at": T,
    "opened_by": "den-haag-operator",
    "acknowledged_at": None,
    "acknowledged_by": None,
    "resolved_at": None,
    "resolved_by": None,
    "resolution": "",
    "last_seen_at": None,
}
ALERT_DETAIL = {
    **ALERT,
    "similar": [
        {
            "intervention_name": "Extra public transport",
            "intervention": "extra-public-transport",
            "count": 1,
            "measured": 1,
            "median_effect_pct": -21.7,
            "p25_effect_pct": -21.7,
            "p75_effect_pct": -21.7,
            "judged_effective": 0,
            "judged": 0,
            "low_confidence": 0,
        }
    ],
}
ALERT_ACKNOWLEDGED = {
    **ALERT,
    "state": "acknowledged",
    "acknowledged_at": "2026-07-04T14:07:00+02:00",
    "acknowledged_by": "den-haag-operator",
}
ALERT_RESOLVED = {
    **ALERT_ACKNOWLEDGED,
    "state": "resolved",
    "resolved_at": "2026-07-04T14:40:00+02:00",
    "resolved_by": "den-haag-operator",
    "resolution": "Extra trams on line 1; queue cleared.",
}
ALERT_RULE = {
    "id": 1,
    "name": "Crowded now",
    "kind": "level_now",
    "area": None,
    "source": None,
    "level": "crowded",
    "within_hours": None,
    "minutes": None,
    "notify_roles": ["admin", "operator"],
    "enabled": True,
    "created_at": "2026-05-01T10:00:00+02:00",
}
WEBHOOK = {
    "id": 1,
    "name": "Meldkamer Haaglanden",
    "url": "https://meldkamer.example.nl/hooks/csm",
    "events": ["alert.opened", "alert.acknowledged", "alert.resolved"],
    "enabled": True,
    "created_at": "2026-05-01T10:00:00+02:00",
}
INTERVENTION = {
    "id": 3,
    "slug": "boa-deployment",
    "name": "BOA deployment",
    "description": "Municipal enforcement officers guide visitors on the boulevard.",
    "is_default": True,
    "is_archived": False,
}
ACTION = {
    "id": 2,
    "intervention": "extra-public-transport",
    "description": "HTM runs extra trams on line 1 from the Kurhaus stop.",
    "areas": ["tramhaltes-kurhaus"],
    "alerts": [6],
    "incident": None,
    "status": "ended",
    "planned_at": None,
    "started_at": "2026-07-04T17:00:00+02:00",
    "ended_at": "2026-07-04T18:30:00+02:00",
    "created_by": "den-haag-operator",
    "organisation": "Gemeente Den Haag",
    "revision": 1,
    "attachments": [],
    "created_at": "2026-07-04T16:55:00+02:00",
    "updated_at": "2026-07-04T16:55:00+02:00",
}
REVISION = {
    "number": 1,
    "actor": "den-haag-operator",
    "at": "2026-07-04T16:55:00+02:00",
    "changes": {"status": [None, "ended"], "areas": [None, ["tramhaltes-kurhaus"]]},
    "snapshot": {
        "intervention": "extra-public-transport",
        "status": "ended",
        "areas": ["tramhaltes-kurhaus"],
    },
}
INCIDENT = {
    "id": 1,
    "kind": "overcrowding",
    "severity": "high",
    "area": "de-pier",
    "occurred_at": "2026-07-04T14:20:00+02:00",
    "description": "Queue at the pier entrance reaches the boulevard.",
    "reported_by": "den-haag-operator",
    "created_at": "2026-07-04T14:22:00+02:00",
}
OUTCOME = {
    "id": 2,
    "action": 2,
    "intervention": "extra-public-transport",
    "area": "tramhaltes-kurhaus",
    "method": "counterfactual_forecast",
    "window_start": "2026-07-04T17:00:00+02:00",
    "window_end": "2026-07-04T18:30:00+02:00",
    "observed_mean": 317.8,
    "expected_mean": 406.1,
    "effect_pct": -21.7,
    "before_mean": 211.2,
    "after_mean": 317.8,
    "before_after_pct": 50.5,
    "level_at_start": "very_busy",
    "confidence": "ok",
    "confidence_note": "forecast scaled by 1.43 to the hours before the action",
    "measured_at": "2026-07-04T21:30:00+02:00",
    "judgement": "effective",
    "judgement_note": "Queue at the tram stop gone within 40 minutes.",
    "judged_by": "den-haag-operator",
    "judged_at": "2026-07-05T09:00:00+02:00",
}
DELIVERY = {
    "id": 1,
    "event_id": "0b6f2c1e-7d4a-4a55-9a3e-2f1c8d9e4b70",
    "event_type": "alert.opened",
    "subject": "alert 6",
    "attempt": 1,
    "status_code": 200,
    "delivered": True,
    "error": "",
    "duration_ms": 182,
    "next_retry_at": None,
    "created_at": T,
}
ATTACHMENT = {
    "id": 4,
    "entry": 2,
    "filename": "tramhalte-kurhaus-1705.jpg",
    "content_type": "image/jpeg",
    "size": 482113,
    "sha256": "9f2c4e0d7b1a5c3e8f6a2b9d0c4e7f1a3b5d8c2e6f0a9b1c7d3e5f8a2c4b6d0e",
    "uploaded_by": "den-haag-operator",
    "uploaded_at": "2026-07-04T17:06:00+02:00",
    "content": "/api/v1/tenants/den-haag/attachments/4/content/",
}
PUBLISHER = {"tenant": "den-haag", "name": "Gemeente Den Haag", "kind": "municipality"}
LIBRARY_TEMPLATE = {
    "id": 3,
    "slug": "boulevard-zomer",
    "name": "Seafront boulevard, summer weekends",
    "description": "Boulevard sections, beach and pier with crowding rules, as used in Scheveningen.",
    "tags": ["beach", "boulevard"],
    "version": 2,
    "format_version": "1.0",
    "includes_geometry": True,
    "summary": {"areas": 8, "sources": 1, "alert_rules": 5, "interventions": 11},
    "publisher": PUBLISHER,
    "published_by": "den-haag-admin",
    "first_published_at": "2026-05-01T10:00:00+02:00",
    "published_at": "2026-06-15T09:30:00+02:00",
}
CONFIG_PACKAGE = {
    "format": "csm-config-package",
    "version": "1.0",
    "areas": [
        {
            "slug": "de-pier",
            "name": "The pier",
            "kind": "permanent",
            "tags": ["pier"],
            "geometry": PIER_SQUARE,
        }
    ],
    "sources": [],
    "alert_rules": [{"name": "Crowded now", "kind": "level_now", "level": "crowded", "area": "de-pier"}],
}
IMPORT_REPORT = {
    "dry_run": True,
    "applied": False,
    "counts": {"areas": 1, "alert_rules": 1},
    "objects": [{"type": "area", "slug": "de-pier", "action": "create"}],
    "secrets_required": [],
    "warnings": [],
    "errors": [],
    "provenance": {"template": "boulevard-zomer", "version": 2, "publisher": "den-haag"},
}
AUDIT_ENTRY = {
    "id": 812,
    "created_at": "2026-07-04T14:07:00+02:00",
    "actor": "den-haag-operator",
    "action": "alert.acknowledge",
    "object_type": "alert",
    "object_id": "6",
    "object_label": "Crowding at the Kurhaus tram stop",
    "result": "success",
    "ip_address": "10.20.30.40",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "request_id": "4f1d2c3b-9a8e-4d7c-b6a5-0e1f2a3b4c5d",
    "details": {},
}
OBSERVATIONS = {
    "start": "2026-07-04T12:00:00Z",
    "end": "2026-07-04T12:15:00Z",
    "resample": "5min",
    "agg": "mean",
    "series": [
        {
            "id": 1,
            "source": "telcameras-scheveningen",
            "key": "cam-boulevard-haven",
            "name": "cam-boulevard-haven",
            "metric": "people_count",
            "unit": "",
            "area": "boulevard-haven",
            "points": [
                ["2026-07-04T12:00:00+00:00", 398.0],
                ["2026-07-04T12:05:00+00:00", 412.0],
                ["2026-07-04T12:10:00+00:00", 431.0],
            ],
        }
    ],
}
PUSH_RESULT = {
    "accepted": 2,
    "duplicate": 0,
    "rejected": 1,
    "updated": 0,
    "errors": [{"row": 3, "errors": {"time": ["Timestamp needs a time zone."]}}],
    "conflicts": [],
    "created_series": [],
    "warnings": [],
}
SOURCE_TEST = {
    "ok": True,
    "error": "",
    "total": 1,
    "warnings": [],
    "readings": [{"series": "cam-7", "time": T, "value": 412.0, "metric": "people_count"}],
}


SUMMARY = "Scheveningen seafront"
OBSERVATIONS_CSV = {
    "text/csv": "source,series,metric,unit,time,value\n"
    "telcameras-scheveningen,cam-boulevard-haven,people_count,,2026-07-04T12:00:00+00:00,398.0\n"
    "telcameras-scheveningen,cam-boulevard-haven,people_count,,2026-07-04T12:05:00+00:00,412.0\n"
}


def _page(*items) -> dict:
    return {"count": len(items), "next": None, "previous": None, "results": list(items)}


def _without(obj: dict, *read_only: str) -> dict:
    return {k: v for k, v in obj.items() if k not in read_only}


def _resource(prefix: str, obj: dict, request: dict, patch: dict | None = None, ops="lcrupd") -> dict:
    """The usual viewset operations of one resource: list, create, retrieve, update, partial, destroy."""
    found = {}
    if "l" in ops:
        found[f"{prefix}_list"] = {"responses": {"200": _page(obj)}}
    if "c" in ops:
        found[f"{prefix}_create"] = {"request": request, "responses": {"201": obj}}
    if "r" in ops:
        found[f"{prefix}_retrieve"] = {"responses": {"200": obj}}
    if "u" in ops:
        found[f"{prefix}_update"] = {"request": request, "responses": {"200": obj}}
    if "p" in ops:
        found[f"{prefix}_partial_update"] = {"request": patch or request, "responses": {"200": obj}}
    if "d" in ops:
        found[f"{prefix}_destroy"] = {"responses": {}}
    return found


AREAS_GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": AREA["slug"],
            "geometry": BEACH_POLYGON,
            "properties": {**_without(AREA, "geometry"), "status": AREA_STATUS},
        }
    ],
    "bbox": AREA["bbox"],
}
AREA_REQUEST = {
    "slug": "strand-scheveningen",
    "name": "Beach in front of the boulevard",
    "description": "Scheveningen beach between the harbour and the pier, without the water line.",
    "kind": "permanent",
    "geometry": BEACH_POLYGON,
    "usable_surface_m2": 167346.0,
    "tags": ["beach"],
}
SOURCE_REQUEST = {
    "slug": "telcameras-scheveningen",
    "name": "Counting cameras Scheveningen",
    "kind": "counting_camera",
    "config": {},
    "poll_interval": 60,
    "enabled": True,
    "areas": [],
    "owner": "Gemeente Den Haag",
    "purpose": "Crowd levels on the boulevard, beach and pier.",
}

EXAMPLES: dict[str, dict] = {
    "auth_token_create": {
        "request": {
            "username": "den-haag-operator",
            "password": "correct horse battery staple",
            "tenant": "den-haag",
            "name": "meldkamer dashboard",
        },
        "responses": {
            "201": {
                "token": "csm_Q2r8pX0m3yVb7cN1aL5eT9uW4kZ6hD2f",
                "expires_at": "2026-08-03T14:05:00Z",
                "tenant": "den-haag",
            }
        },
    },
    "auth_token_destroy": {"responses": {}},
    "connectors_retrieve": {
        "responses": {
            "200": [
                {
                    "kind": "counting_camera",
                    "label": "Counting camera (push)",
                    "description": "Vendors push people counts or line crossings per interval.",
                    "push_only": True,
                    "default_poll_interval": 60,
                    "config_schema": {"type": "object", "properties": {}},
                    "secret_schema": {"type": "object", "properties": {}},
                    "stores": "Per camera: people in the area or crossings in and out per interval.",
                }
            ]
        }
    },
    "tenants_list": {"responses": {"200": _page(TENANT)}},
    "tenants_retrieve": {"responses": {"200": TENANT}},
    "tenants_update": {
        "request": _without(TENANT, "slug", "kind", "role"),
        "responses": {"200": TENANT},
    },
    "tenants_partial_update": {
        "request": {"small_count_threshold": 15, "retention_days": 365},
        "responses": {"200": TENANT},
    },
    **_resource(
        "tenants_members",
        MEMBER,
        {"email": "meldkamer@denhaag.nl", "username": "den-haag-operator", "role": "operator"},
        {"role": "analyst", "is_active": True},
        ops="lrpd",
    ),
    "tenants_members_create": {
        "request": {"email": "boa-coordinator@denhaag.nl", "role": "operator"},
        "responses": {
            "201": {
                **MEMBER,
                "user": {
                    **USER,
                    "username": "boa-coordinator@denhaag.nl",
                    "email": "boa-coordinator@denhaag.nl",
                },
                "user_created": True,
                "set_password_url": "https://csm.denhaag.nl/accounts/reset/Mw/set-password/",
            }
        },
    },
    "tenants_members_unlock_create": {"responses": {"200": MEMBER}},
    **_resource("tenants_areas", AREA, AREA_REQUEST, {"capacity": 20000, "tags": ["beach", "summer"]}),
    "tenants_areas_destroy": {"responses": {"200": {**AREA, "archived": True}}},
    "tenants_areas.geojson_retrieve": {"responses": {"200": AREAS_GEOJSON}},
    "tenants_areas_geojson_retrieve": {"responses": {"200": AREAS_GEOJSON}},
    "tenants_areas_status_retrieve": {
        "responses": {
            "200": {
                "time": "2026-07-04T12:06:00Z",
                "areas": [
                    {
                        "area_id": 5,
                        "slug": "strand-scheveningen",
                        "name": "Beach in front of the boulevard",
                        "people": 8412.0,
                        "density": 0.05,
                        "occupancy_pct": None,
                        "level": "quiet",
                        "basis": "density",
                        "flow": None,
                        "flow_method": None,
                        "flow_line": None,
                        "saturated": None,
                        "method": "counts",
                        "calibrated": None,
                        "trend": AREA_STATUS["trend"],
                        "as_of": "2026-07-04T12:05:00Z",
                        "age_seconds": 60.0,
                        "stale": False,
                        "public_label": "quiet",
                        "sources": [
                            {
                                "source": "telcameras-scheveningen",
                                "series": "cam-strand-scheveningen",
                                "metric": "people_count",
                                "value": 8412.0,
                                "time": "2026-07-04T12:05:00Z",
                                "stale": False,
                                "used": True,
                            }
                        ],
                    }
                ],
            }
        }
    },
    "tenants_areas_history_retrieve": {
        "responses": {
            "200": {
                "start": "2026-07-03T12:00:00Z",
                "end": "2026-07-04T13:00:00Z",
                "areas": [
                    {
                        "slug": "strand-scheveningen",
                        "quantity": "people",
                        "flow_method": None,
                        "points": [
                            {
                                "time": "2026-07-04T12:00:00Z",
                                "people": 8210.4,
                                "flow": None,
                                "density": 0.049,
                                "level": "quiet",
                            },
                        ],
                    },
                    {
                        "slug": "strandtrap-kurhaus",
                        "quantity": "flow",
                        "flow_method": "fruin",
                        "points": [
                            {
                                "time": "2026-07-04T12:00:00Z",
                                "people": None,
                                "flow": 36.2,
                                "density": None,
                                "level": "busy",
                            },
                        ],
                    },
                ],
            }
        }
    },
    "tenants_areas_forecast_retrieve": {
        "responses": {
            "200": {
                "area": "strand-scheveningen",
                "issued_at": "2026-07-04T14:00:00+02:00",
                "method": "gbm",
                "quantity": "people",
                "model_version": "csm-forecast-1.0-5c1f0e2a9b7d",
                "trained_at": "2026-07-04T03:10:00+02:00",
                "accuracy": {
                    "1": {"mae_model": 210.4, "mae_seasonal_naive": 590.2, "ratio": 0.36, "n": 1310}
                },
                "record": {
                    "horizon": 3,
                    "hours": 668,
                    "days": 28.0,
                    "within": 640.5,
                    "mae": 410.2,
                    "coverage_80": 0.79,
                },
                "trust": {"ok": True},
                "note": "Gradient boosting on 26 weeks of hourly history with weather and holidays.",
                "points": [
                    {
                        "time": "2026-07-04T13:00:00+00:00",
                        "p10": 7900.0,
                        "p50": 9100.0,
                        "p90": 10400.0,
                        "level": "quiet",
                        "level_p90": "quiet",
                    }
                ],
            }
        }
    },
    "tenants_areas_import_create": {
        "request": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": PIER_SQUARE,
                    "properties": {
                        "slug": "pier-entree",
                        "name": "Pier entrance",
                        "tags": ["pier"],
                        "beheerder": "Gemeente Den Haag",
                    },
                }
            ],
        },
        "responses": {
            "200": {
                "created": ["pier-entree"],
                "updated": [],
                "dry_run": False,
                "ignored_properties": {"beheerder": ["pier-entree"]},
            }
        },
    },
    "tenants_buildings.geojson_retrieve": {
        "responses": {
            "200": {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": KURHAUS_BUILDING,
                        "properties": {"height": 24.0, "id": "kurhaus"},
                    }
                ],
                "bbox": [4.2753232, 52.1104271, 4.2767224, 52.1114431],
                "uploaded_at": "2026-05-01T08:00:00Z",
            }
        }
    },
    "tenants_buildings.geojson_update": {
        "request": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "kurhaus",
                    "geometry": KURHAUS_BUILDING,
                    "properties": {"b3_h_dak_max": 27.5, "b3_h_maaiveld": 3.5},
                }
            ],
        },
        "responses": {
            "200": {
                "feature_count": 1,
                "height_keys": {"b3_h_dak_max": 1},
                "bbox": [4.2753232, 52.1104271, 4.2767224, 52.1114431],
                "uploaded_at": "2026-05-01T08:00:00Z",
            }
        },
    },
    "tenants_crowd_levels_retrieve": {"responses": {"200": CROWD_LEVELS}},
    "tenants_crowd_levels_update": {
        "request": {
            "density_bands": {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5},
            "capacity_bands": None,
        },
        "responses": {"200": CROWD_LEVELS},
    },
    "tenants_crowd_levels_partial_update": {
        "request": {"density_bands": {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5}},
        "responses": {"200": CROWD_LEVELS},
    },
    **_resource(
        "tenants_events",
        EVENT,
        _without(EVENT, "id", "zones", "created_at", "updated_at"),
        {"expected_attendance": 75000},
    ),
    **_resource(
        "tenants_sources", SOURCE, SOURCE_REQUEST, {"enabled": False, "purpose": "Paused during maintenance."}
    ),
    "tenants_sources_health_list": {
        "responses": {
            "200": [
                {
                    "id": 1,
                    "slug": "telcameras-scheveningen",
                    "name": "Counting cameras Scheveningen",
                    "kind": "counting_camera",
                    **HEALTH,
                }
            ]
        },
    },
    "tenants_sources_test_create": {"responses": {"200": SOURCE_TEST}},
    "tenants_sources_try": {
        "request": {"kind": "buienradar", "config": {"station_id": 6215}, "secrets": {}, "areas": []},
        "responses": {
            "200": {
                **SOURCE_TEST,
                "readings": [
                    {"series": "6215:temperature", "time": T, "value": 23.4, "metric": "temperature"}
                ],
            }
        },
    },
    "tenants_sources_observations_retrieve": {
        "responses": {"200": OBSERVATIONS},
        "response_media": OBSERVATIONS_CSV,
    },
    "tenants_sources_observations_create": {
        "request": [
            {"series": "cam-boulevard-haven", "time": "2026-07-04T14:05:00+02:00", "value": 412},
            {"series": "cam-boulevard-haven", "time": "2026-07-04T14:10:00+02:00", "value": 431},
            {"series": "cam-boulevard-haven", "time": "2026-07-04T14:15:00", "value": 450},
        ],
        "request_media": {
            "text/csv": "series,time,value\ncam-boulevard-haven,2026-07-04T14:05:00+02:00,412\n"
            "cam-boulevard-haven,2026-07-04T14:10:00+02:00,431\n"
        },
        "responses": {"200": PUSH_RESULT},
    },
    "tenants_sources_push_tokens_create": {
        "request": {
            "user": "den-haag-integration",
            "name": "telcamera leverancier",
            "may_create_series": True,
            "ttl_days": 365,
        },
        "responses": {"201": {"token": "csm_hV3n9Qe2LrT8yB5wK1xZ7cM4pF6sD0aG"}},
    },
    **_resource(
        "tenants_series", SERIES, {}, {"area": "boulevard-haven", "lon": 4.2655, "lat": 52.1052}, ops="lrp"
    ),
    "tenants_series.geojson_retrieve": {
        "responses": {
            "200": {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": 11,
                        "geometry": {"type": "Point", "coordinates": [4.2772, 52.1117]},
                        "properties": {
                            "id": 11,
                            "key": "garage-kurhaus:vacant",
                            "name": "Parkeergarage Kurhaus",
                            "metric": "parking_vacant",
                            "unit": "spaces",
                            "source": "parkeren-den-haag",
                            "facility": "garage-kurhaus",
                            "latest_value": 37.0,
                            "latest_time": "2026-07-04T12:00:00Z",
                            "stale": False,
                        },
                    }
                ],
                "bbox": [4.2772, 52.1117, 4.2772, 52.1117],
            }
        }
    },
    "tenants_observations_retrieve": {"responses": {"200": OBSERVATIONS}, "response_media": OBSERVATIONS_CSV},
    **_resource(
        "tenants_alerts",
        ALERT,
        {
            "message": "BOA team reports people queueing onto the tram track at the Kurhaus stop.",
            "area": "tramhaltes-kurhaus",
            "level": "crowded",
        },
        ops="lcr",
    ),
    "tenants_alerts_retrieve": {"responses": {"200": ALERT_DETAIL}},
    "tenants_alerts_acknowledge_create": {"responses": {"200": ALERT_ACKNOWLEDGED}},
    "tenants_alerts_resolve_create": {
        "request": {"note": "Extra trams on line 1; queue cleared."},
        "responses": {"200": ALERT_RESOLVED},
    },
    **_resource(
        "tenants_alert_rules",
        ALERT_RULE,
        {
            "name": "Crowded now",
            "kind": "level_now",
            "level": "crowded",
            "notify_roles": ["admin", "operator"],
            "enabled": True,
        },
        {"enabled": False},
    ),
    **_resource(
        "tenants_webhooks",
        WEBHOOK,
        {"name": "Meldkamer Haaglanden", "url": "https://meldkamer.example.nl/hooks/csm", "enabled": True},
        {"enabled": False},
    ),
    "tenants_webhooks_create": {
        "request": {"name": "Meldkamer Haaglanden", "url": "https://meldkamer.example.nl/hooks/csm"},
        "responses": {"201": {**WEBHOOK, "secret": "whsec_2b7e151628aed2a6abf7158809cf4f3c"}},
    },
    "tenants_webhooks_deliveries_list": {"responses": {"200": _page(DELIVERY)}},
    **_resource(
        "tenants_interventions",
        INTERVENTION,
        {
            "slug": "afsluiten-pier-entree",
            "name": "Close the pier entrance",
            "description": "Stewards close the pier entrance until the queue is gone.",
        },
        {"archived": True},
        ops="lcrp",
    ),
    **_resource(
        "tenants_actions",
        ACTION,
        {
            "intervention": "extra-public-transport",
            "description": "HTM runs extra trams on line 1 from the Kurhaus stop.",
            "areas": ["tramhaltes-kurhaus"],
            "alerts": [6],
            "status": "ended",
            "started_at": "2026-07-04T17:00:00+02:00",
            "ended_at": "2026-07-04T18:30:00+02:00",
        },
        {"status": "ended", "ended_at": "2026-07-04T18:30:00+02:00"},
        ops="lcrp",
    ),
    "tenants_actions_revisions_list": {"responses": {"200": [REVISION]}},
    "tenants_actions_attachments_list": {"responses": {"200": [ATTACHMENT]}},
    "tenants_actions_attachments_create": {"responses": {"201": ATTACHMENT}},
    "tenants_attachments_retrieve": {"responses": {"200": ATTACHMENT}},
    "tenants_webhooks_test_create": {
        "responses": {"202": {"event_id": "0b6f2c1e-7d4a-4a55-9a3e-2f1c8d9e4b70", "type": "webhook.test"}}
    },
    "tenants_audit_list": {
        "responses": {"200": _page(AUDIT_ENTRY)},
        "response_media": {
            "text/csv": "id,created_at,actor,action,object_type,object_id,result\n"
            "812,2026-07-04T12:07:00+00:00,den-haag-operator,alert.acknowledge,alert,6,success\n"
        },
    },
    "tenants_audit_retrieve": {"responses": {"200": AUDIT_ENTRY}},
    "library_list": {"responses": {"200": _page(LIBRARY_TEMPLATE)}},
    "library_retrieve": {"responses": {"200": {**LIBRARY_TEMPLATE, "package": CONFIG_PACKAGE}}},
    "tenants_library_list": {"responses": {"200": _page(LIBRARY_TEMPLATE)}},
    "tenants_library_retrieve": {"responses": {"200": LIBRARY_TEMPLATE}},
    "tenants_library_create": {
        "request": {
            "slug": "boulevard-zomer",
            "name": "Seafront boulevard, summer weekends",
            "tags": ["beach", "boulevard"],
            "include_geometry": True,
        },
        "responses": {"201": LIBRARY_TEMPLATE},
    },
    "tenants_library_instantiate_create": {
        "request": {"template": 3, "dry_run": True, "geometry": "keep", "settings": False},
        "responses": {"200": IMPORT_REPORT},
    },
    "tenants_config_export_retrieve": {"responses": {"200": CONFIG_PACKAGE}},
    "tenants_config_import_create": {
        "request": {"package": CONFIG_PACKAGE, "dry_run": True, "geometry": "keep", "settings": True},
        "responses": {"200": IMPORT_REPORT},
    },
    "schemas_config_package.json_retrieve": {
        "responses": {
            "200": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "CSM configuration package",
                "type": "object",
                "required": ["format", "version"],
            }
        }
    },
    **_resource(
        "tenants_incidents",
        INCIDENT,
        {
            "kind": "overcrowding",
            "severity": "high",
            "area": "de-pier",
            "occurred_at": "2026-07-04T14:20:00+02:00",
            "description": "Queue at the pier entrance reaches the boulevard.",
        },
        {"severity": "medium"},
        ops="lcrp",
    ),
    **_resource(
        "tenants_outcomes",
        OUTCOME,
        {},
        {"judgement": "effective", "judgement_note": "Queue at the tram stop gone within 40 minutes."},
        ops="lrp",
    ),
    "tenants_learning_retrieve": {
        "responses": {
            "200": {
                "group_by": ["intervention"],
                "rows": [
                    {
                        "intervention": "extra-public-transport",
                        "count": 4,
                        "measured": 4,
                        "median_effect_pct": -18.5,
                        "p25_effect_pct": -24.0,
                        "p75_effect_pct": -9.5,
                        "judged_effective": 3,
                        "judged": 4,
                        "low_confidence": 1,
                    }
                ],
            }
        }
    },
}

# --- Sharing between tenants: Den Haag shows the boulevard to the King's Day organiser ------------------

AGREEMENT = {
    "id": 3,
    "provider": {"slug": "den-haag", "name": "Gemeente Den Haag", "kind": "municipality"},
    "recipient": {"slug": "koningsdag-events", "name": "Koningsdag Events", "kind": "event_organiser"},
    "operation": None,
    "side": "provider",
    "status": "active",
    "state": "accepted",
    "areas": [{"slug": "tramhaltes-kurhaus", "name": "Tram stops Kurhaus"}],
    "area_tag": "boulevard",
    "kinds": ["status", "forecasts", "alerts"],
    "valid_from": "2027-04-26T18:00:00+02:00",
    "valid_to": "2027-04-28T06:00:00+02:00",
    "purpose": "Koningsdag 2027: the organiser sees the crowd on the boulevard around its stages.",
    "token_access": False,
    "offered_at": "2027-04-01T10:00:00+02:00",
    "offered_by": "den-haag-admin",
    "responded_at": "2027-04-02T09:12:00+02:00",
    "responded_by": None,
    "ended_at": None,
    "ended_by": None,
    "ended_by_tenant": None,
    "end_reason": "",
}
AGREEMENT_ENDED = {
    **AGREEMENT,
    "status": "ended",
    "state": "ended",
    "ended_at": "2027-04-28T01:00:00+02:00",
    "ended_by": "den-haag-admin",
    "ended_by_tenant": "den-haag",
    "end_reason": "Event over.",
}
SHARED_OWNER = {"owner": "den-haag", "owner_name": "Gemeente Den Haag", "agreement": 3}
SHARED_AREAS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "den-haag/tramhaltes-kurhaus",
            "geometry": PIER_SQUARE,
            "properties": {
                **SHARED_OWNER,
                "slug": "tramhaltes-kurhaus",
                "name": "Tram stops Kurhaus",
                "kind": "permanent",
                "capacity": 1200,
                "shared": True,
                "kinds": ["status", "forecasts", "alerts"],
                "status": AREA_STATUS,
                "level": "quiet",
                "forecast_level": "busy",
                "forecast_level_3h": "crowded",
                "forecast": None,
            },
        }
    ],
    "bbox": [4.2627, 52.1168, 4.2637, 52.1175],
}

EXAMPLES.update(
    {
        "tenants_agreements_list": {"responses": {"200": _page(AGREEMENT)}},
        "tenants_agreements_create": {
            "request": {
                "recipient": "koningsdag-events",
                "areas": ["tramhaltes-kurhaus"],
                "area_tag": "boulevard",
                "kinds": ["status", "forecasts", "alerts"],
                "valid_from": "2027-04-26T18:00:00+02:00",
                "valid_to": "2027-04-28T06:00:00+02:00",
                "purpose": AGREEMENT["purpose"],
                "token_access": False,
            },
            "responses": {
                "201": {**AGREEMENT, "status": "offered", "state": "offered", "responded_at": None}
            },
        },
        "tenants_agreements_retrieve": {"responses": {"200": AGREEMENT}},
        "tenants_agreements_accept_create": {
            "responses": {
                "200": {
                    **AGREEMENT,
                    "side": "recipient",
                    "offered_by": None,
                    "responded_by": "koningsdag-events-admin",
                }
            }
        },
        "tenants_agreements_decline_create": {
            "request": {"reason": "We watch the boulevard with the police this year."},
            "responses": {
                "200": {
                    **AGREEMENT,
                    "side": "recipient",
                    "status": "declined",
                    "state": "declined",
                    "areas": [],
                    "offered_by": None,
                    "responded_by": "koningsdag-events-admin",
                    "end_reason": "We watch the boulevard with the police this year.",
                }
            },
        },
        "tenants_agreements_end_create": {
            "request": {"reason": "Event over."},
            "responses": {"200": AGREEMENT_ENDED},
        },
        "tenants_shared_areas_retrieve": {"responses": {"200": SHARED_AREAS}},
        "tenants_shared_alerts_list": {
            "responses": {
                "200": [
                    {
                        "id": 6,
                        **SHARED_OWNER,
                        "kind": "manual",
                        "state": "open",
                        "level": "crowded",
                        "message": ALERT["message"],
                        "area": "tramhaltes-kurhaus",
                        "area_name": "Tram stops Kurhaus",
                        "opened_at": T,
                        "acknowledged_at": None,
                        "resolved_at": None,
                    }
                ]
            }
        },
        "tenants_shared_actions_list": {
            "responses": {
                "200": [
                    {
                        "id": 2,
                        **SHARED_OWNER,
                        "organisation": "Gemeente Den Haag",
                        "intervention": "Extra public transport",
                        "description": ACTION["description"],
                        "areas": ["tramhaltes-kurhaus"],
                        "status": "ended",
                        "planned_at": None,
                        "started_at": ACTION["started_at"],
                        "ended_at": ACTION["ended_at"],
                    }
                ]
            }
        },
        "tenants_shared_series_list": {
            "responses": {
                "200": [
                    {
                        "id": 12,
                        **SHARED_OWNER,
                        "area": "tramhaltes-kurhaus",
                        "name": "Kurhaus tram stop camera",
                        "metric": "people_count",
                        "unit": "",
                        "lon": 4.2632,
                        "lat": 52.1171,
                        "latest_time": T,
                        "latest_value": 412.0,
                    }
                ]
            }
        },
        "tenants_shared_forecasts_list": {
            "responses": {
                "200": [
                    {
                        **SHARED_OWNER,
                        "area": "tramhaltes-kurhaus",
                        "area_name": "Tram stops Kurhaus",
                        "issued_at": T,
                        "method": "gbm",
                        "quantity": "people",
                        "trust": {"ok": True},
                        "points": [
                            {
                                "time": "2026-07-04T15:00:00+02:00",
                                "p10": 380.0,
                                "p50": 450.0,
                                "p90": 560.0,
                                "level": "busy",
                                "level_p90": "crowded",
                            }
                        ],
                    }
                ]
            }
        },
    }
)


OPERATION = {
    "id": 1,
    "slug": "koningsdag-2027",
    "name": "Koningsdag 2027 Den Haag",
    "description": "King's Day on the boulevard and in the city centre: one picture, one action log.",
    "lead": {"slug": "den-haag", "name": "Gemeente Den Haag", "kind": "municipality"},
    "starts_at": "2027-04-26T18:00:00+02:00",
    "ends_at": "2027-04-28T06:00:00+02:00",
    "closed_at": None,
    "status": "running",
    "public_page": True,
    "participants": [
        {"tenant": {"slug": "den-haag", "name": "Gemeente Den Haag", "kind": "municipality"}, "role": "lead",
         "state": "joined"},
        {"tenant": {"slug": "rotterdam", "name": "Gemeente Rotterdam", "kind": "municipality"},
         "role": "neighbouring city", "state": "joined"},
        {"tenant": {"slug": "koningsdag-events", "name": "Koningsdag Events", "kind": "event_organiser"},
         "role": "organiser", "state": "invited"},
    ],
    "my_state": "joined",
    "on_duty": ["den-haag-operator"],
    "created_at": "2027-04-01T10:00:00+02:00",
}  # fmt: skip
OPERATION_LOG_ENTRY = {
    "id": 2,
    "organisation": "Gemeente Den Haag",
    "tenant": "den-haag",
    "author": "den-haag-operator",
    "intervention": "Extra public transport",
    "description": ACTION["description"],
    "areas": ["tramhaltes-kurhaus"],
    "status": "ended",
    "planned_at": None,
    "started_at": ACTION["started_at"],
    "ended_at": ACTION["ended_at"],
    "created_at": ACTION["created_at"],
    "outcomes": [{"area": "tramhaltes-kurhaus", "method": "forecast_counterfactual", "effect_pct": -18.5}],
}
OPERATION_AGREEMENT = {
    **AGREEMENT,
    "recipient": None,
    "operation": {"id": 1, "slug": "koningsdag-2027", "name": "Koningsdag 2027 Den Haag"},
    "purpose": "Joint operation: Koningsdag 2027 Den Haag",
    "valid_from": OPERATION["starts_at"],
    "valid_to": OPERATION["ends_at"],
}

EXAMPLES.update(
    {
        **_resource(
            "tenants_operations",
            OPERATION,
            {
                "slug": "koningsdag-2027",
                "name": "Koningsdag 2027 Den Haag",
                "description": OPERATION["description"],
                "starts_at": "2027-04-26T18:00:00+02:00",
                "ends_at": "2027-04-28T06:00:00+02:00",
                "public_page": True,
                "invite": ["rotterdam", "koningsdag-events"],
            },
            {"ends_at": "2027-04-28T04:00:00+02:00"},
            ops="lcrp",
        ),
        "tenants_operations_invite_create": {
            "request": {"tenant": "koningsdag-events", "role": "organiser"},
            "responses": {"200": OPERATION},
        },
        "tenants_operations_join_create": {"responses": {"200": OPERATION}},
        "tenants_operations_close_create": {
            "responses": {"200": {**OPERATION, "status": "over", "closed_at": "2027-04-28T01:00:00+02:00"}}
        },
        "tenants_operations_contribute_create": {
            "request": {
                "areas": ["tramhaltes-kurhaus"],
                "area_tag": "boulevard",
                "kinds": ["status", "alerts"],
            },
            "responses": {"201": OPERATION_AGREEMENT},
        },
        "tenants_operations_duty_create": {"request": {"on_duty": True}, "responses": {"200": OPERATION}},
        "tenants_operations_picture_retrieve": {"responses": {"200": SHARED_AREAS}},
        "tenants_operations_alerts_list": {
            "responses": {"200": EXAMPLES["tenants_shared_alerts_list"]["responses"]["200"]}
        },
        "tenants_operations_log_list": {"responses": {"200": [OPERATION_LOG_ENTRY]}},
        "tenants_operations_log_create": {
            "request": {
                "intervention": "extra-public-transport",
                "description": ACTION["description"],
                "areas": ["tramhaltes-kurhaus"],
                "started_at": ACTION["started_at"],
            },
            "responses": {
                "201": {**OPERATION_LOG_ENTRY, "status": "active", "ended_at": None, "outcomes": []}
            },
        },
    }
)


PROBLEM_EXAMPLES = {
    "400": {
        "type": "urn:csm:problem:validation",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has 1 invalid field.",
        "errors": {"name": ["This field may not be blank."]},
    },
    "401": {
        "type": "urn:csm:problem:not_authenticated",
        "title": "Authentication required",
        "status": 401,
        "detail": "Authentication credentials were not provided.",
    },
    "403": {
        "type": "urn:csm:problem:permission_denied",
        "title": "Permission denied",
        "status": 403,
        "detail": "Your role 'analyst' in den-haag does not allow this ('manage' right needed).",
    },
    "404": {
        "type": "urn:csm:problem:not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No such tenant.",
    },
    "405": {
        "type": "urn:csm:problem:method_not_allowed",
        "title": "Method not allowed",
        "status": 405,
        "detail": 'Method "DELETE" not allowed.',
    },
    "409": {
        "type": "urn:csm:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "The event still has zones.",
    },
    "413": {
        "type": "urn:csm:problem:too_large",
        "title": "Request too large",
        "status": 413,
        "detail": "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.",
    },
    "415": {
        "type": "urn:csm:problem:unsupported_media_type",
        "title": "Unsupported media type",
        "status": 415,
        "detail": 'Unsupported media type "text/plain" in request.',
    },
    "429": {
        "type": "urn:csm:problem:throttled",
        "title": "Too many requests",
        "status": 429,
        "detail": "Request was throttled. Expected available in 42 seconds.",
    },
}


def request_example(operation_id: str):
    """The documented request body of an operation (a copy), or None."""
    entry = EXAMPLES.get(operation_id, {})
    return copy.deepcopy(entry["request"]) if "request" in entry else None


def _set_example(content: dict, value, summary: str, by_media: dict | None = None) -> None:
    for media_type, media in content.items():
        if isinstance(media, dict):
            if media_type == "text/csv" and media_type not in (by_media or {}):
                continue  # a JSON example is no CSV example
            chosen = (by_media or {}).get(media_type, value)
            media["examples"] = {"scheveningen": {"summary": summary, "value": copy.deepcopy(chosen)}}


def add_examples(result, generator, request, public):
    """Attach the registry's examples to each operation, and a problem example to each error response."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            entry = EXAMPLES.get(operation.get("operationId"), {})
            body = operation.get("requestBody")
            if body and "request" in entry:
                _set_example(body.get("content", {}), entry["request"], SUMMARY, entry.get("request_media"))
            for code, response in operation["responses"].items():
                content = response.get("content")
                if not content:
                    continue
                if code in entry.get("responses", {}):
                    _set_example(content, entry["responses"][code], SUMMARY, entry.get("response_media"))
                elif code in PROBLEM_EXAMPLES and "application/problem+json" in content:
                    media = content["application/problem+json"] = dict(content["application/problem+json"])
                    _set_example({"problem": media}, PROBLEM_EXAMPLES[code], response.get("description", ""))
    return result
