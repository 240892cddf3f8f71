"""Crowd forecasting: hourly quantile forecasts per area from people counts (see ``engine`` for the API)."""

from .engine import (
    ENGINE_VERSION,
    EngineConfig,
    Forecast,
    ForecastModel,
    HorizonScore,
    backtest,
    load_model,
    train,
)

__all__ = [
    "ENGINE_VERSION",
    "EngineConfig",
    "Forecast",
    "ForecastModel",
    "HorizonScore",
    "backtest",
    "load_model",
    "train",
]
