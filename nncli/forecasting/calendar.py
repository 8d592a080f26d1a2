"""A series' own calendar: business days for daily market data, the inferred frequency otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

BUSINESS_DAY = "B"


def infer_frequency(timestamps: pd.DatetimeIndex) -> str:
    """'B' for weekday-only daily data, else a pandas frequency string (or the median step)."""
    import pandas as pd

    if len(timestamps) < 3:
        return "D"
    steps = pd.Series(timestamps[1:] - timestamps[:-1])
    median = steps.median()
    weekdays = pd.Series(timestamps.day_of_week)
    if median == pd.Timedelta(days=1) and (weekdays < 5).all():
        return BUSINESS_DAY
    import warnings

    with warnings.catch_warnings():  # pandas 3.1 announces an offset instead of a string
        warnings.simplefilter("ignore")
        inferred = pd.infer_freq(timestamps[-50:])
    if inferred:
        return str(getattr(inferred, "freqstr", inferred))
    return pd.tseries.frequencies.to_offset(median).freqstr


def future_timestamps(last: pd.Timestamp, frequency: str, horizon: int) -> pd.DatetimeIndex:
    """The next `horizon` timestamps after `last` on the series' calendar (a Friday -> Monday)."""
    import pandas as pd

    if frequency == BUSINESS_DAY:
        return pd.bdate_range(start=last + pd.offsets.BDay(1), periods=horizon)
    offset = pd.tseries.frequencies.to_offset(frequency)
    return pd.date_range(start=last, periods=horizon + 1, freq=offset)[1:]
