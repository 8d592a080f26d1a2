"""Forecasting: series loading, target transforms, windows, calendars, baselines, backtests."""
