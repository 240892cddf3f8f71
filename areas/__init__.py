"""Areas and event zones, events, crowd levels (levels.py: the one place a level is decided), area status
(fusion of the sources' observations), forecasts and the building layer. Uses tenants and sources."""
