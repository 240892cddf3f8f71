"""OGC SensorThings API v1.1 over the platform's sources, series, observations and areas (reads, and
Observation writes through sources.push). Uses tenants, sources and areas; owns no models."""
