"""A series' own calendar: business days for daily market data, the inferred frequency otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

BUSINESS_DAY = "B"


def show_stamp(stamp: pd.Timestamp) -> str:
    """A timestamp as a user would write it: the date alone at midnight."""
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


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


# Markets close for up to four weekdays in a row (New York, September 2001); a run of five
# missing business days (a whole week) or more is a hole in the data, not a holiday.
MISSING_BUSINESS_DAYS = 5
# A step this many times the series' usual step is a hole in a regular calendar.
GAP_FACTOR = 1.5
# Share of steps that must be "usual" for a calendar to count as regular; intraday sessions
# (nights, weekends) fall below it and only steps longer than a long weekend count there.
REGULAR_SHARE = 0.9
LONG_WEEKEND = 4  # days


def find_gaps(timestamps: pd.DatetimeIndex, frequency: str | None = None) -> list[int]:
    """Indices i where the step from row i - 1 to row i skips part of the series' calendar.

    Business-day data may skip holidays, not a week; a regular calendar (daily, weekly,
    monthly, hourly around the clock) may skip nothing; an irregular one (intraday sessions)
    may skip nights and weekends but not more than a long weekend.
    """
    import numpy as np

    if len(timestamps) < 3:
        return []
    frequency = frequency or infer_frequency(timestamps)
    if frequency == BUSINESS_DAY:
        days = timestamps.normalize().to_numpy().astype("datetime64[D]")
        missing = np.busday_count(days[:-1], days[1:]) - 1
        return [int(i) + 1 for i in np.flatnonzero(missing >= MISSING_BUSINESS_DAYS)]
    steps = (timestamps[1:] - timestamps[:-1]).total_seconds().to_numpy(np.float64)
    usual = float(np.median(steps))
    if usual <= 0:
        return []
    regular = float(np.mean(steps <= GAP_FACTOR * usual)) >= REGULAR_SHARE
    limit = GAP_FACTOR * usual if regular else max(GAP_FACTOR * usual, LONG_WEEKEND * 86400.0)
    return [int(i) + 1 for i in np.flatnonzero(steps > limit)]
