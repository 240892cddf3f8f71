"""Sources, connectors, series and observations: the data backbone. Owns fetching (scheduling, shared
national feeds, the circuit breaker), pushed observations (sources.push: the push rules for REST and
SensorThings), plausibility and the observation store. Uses only tenants."""
