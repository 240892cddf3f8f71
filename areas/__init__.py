"""Areas and event zones, crowd levels, area status and forecasting."""
