"""OGC SensorThings API v1.1 over the platform's sources, series, observations and areas."""
