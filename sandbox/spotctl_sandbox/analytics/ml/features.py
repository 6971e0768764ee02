"""Feature frames the models read: the two feature tables as numpy columns, checked once at the edge.

The rows come from `analytics_minute_features` and `analytics_user_features` (the contract with the
feature pipeline); every model takes these frames, so a bad value is refused here with a message
that names the column, not deep inside scikit-learn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MINUTE_COLUMNS = ("plays", "active_users", "searches", "signups", "errors", "hub_messages", "delivery_p99_ms")
USER_COLUMNS = ("plays_7d", "distinct_songs_7d", "distinct_artists_7d", "night_share", "weekend_share",
                "avg_plays_per_day")
SHARE_COLUMNS = ("night_share", "weekend_share")


class FeatureError(ValueError):
    """Input the models cannot use (empty, NaN, negative, wrong shape): the message says which."""


@dataclass(frozen=True)
class MinuteFeatures:
    """One row of `analytics_minute_features`."""

    tenant: str
    minute: dt.datetime
    plays: int
    active_users: int
    searches: int = 0
    signups: int = 0
    errors: int = 0
    hub_messages: int = 0
    delivery_p99_ms: float = 0.0

    def values(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, c)) for c in MINUTE_COLUMNS)


@dataclass(frozen=True)
class UserFeatures:
    """One row of `analytics_user_features`."""

    tenant: str
    user_id: int
    plays_7d: int
    distinct_songs_7d: int
    distinct_artists_7d: int
    night_share: float
    weekend_share: float
    avg_plays_per_day: float

    def values(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, c)) for c in USER_COLUMNS)


def _utc_minute(value: dt.datetime) -> np.datetime64:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return np.datetime64(value.replace(second=0, microsecond=0), "m")


def _check(values: np.ndarray, columns: Sequence[str], what: str) -> None:
    if values.ndim != 2 or values.shape[1] != len(columns):
        raise FeatureError(f"{what}: expected {len(columns)} columns ({', '.join(columns)}), got shape "
                           f"{values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        raise FeatureError(f"{what}: {columns[int(np.argwhere(bad)[0][1])]} has a missing or infinite value")
    negative = values < 0
    if negative.any():
        raise FeatureError(f"{what}: {columns[int(np.argwhere(negative)[0][1])]} is negative")


@dataclass(frozen=True)
class MinuteFrame:
    """Per-minute features of one or more tenants, as columns (minutes are UTC, numpy datetime64[m])."""

    tenants: np.ndarray  # str, shape (n,)
    minutes: np.ndarray  # datetime64[m], shape (n,)
    values: np.ndarray  # float64, shape (n, len(MINUTE_COLUMNS))

    def __post_init__(self) -> None:
        _check(self.values, MINUTE_COLUMNS, "minute features")
        if not (len(self.tenants) == len(self.minutes) == len(self.values)):
            raise FeatureError("minute features: tenants, minutes and values differ in length")

    @classmethod
    def from_rows(cls, rows: Iterable[MinuteFeatures]) -> MinuteFrame:
        rows = list(rows)
        return cls(np.array([r.tenant for r in rows], dtype=object),
                   np.array([_utc_minute(r.minute) for r in rows], dtype="datetime64[m]"),
                   np.array([r.values() for r in rows], dtype=float).reshape(len(rows), len(MINUTE_COLUMNS)))

    def __len__(self) -> int:
        return len(self.values)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, MINUTE_COLUMNS.index(name)]

    def tenant_names(self) -> list[str]:
        return sorted({str(t) for t in self.tenants})

    def of_tenant(self, tenant: str) -> MinuteFrame:
        """One tenant's rows, in time order."""
        mask = self.tenants == tenant
        order = np.argsort(self.minutes[mask], kind="stable")
        return MinuteFrame(self.tenants[mask][order], self.minutes[mask][order], self.values[mask][order])

    def before(self, minute: np.datetime64) -> MinuteFrame:
        mask = self.minutes < minute
        return MinuteFrame(self.tenants[mask], self.minutes[mask], self.values[mask])

    def window(self) -> tuple[dt.datetime, dt.datetime] | None:
        """First and last minute held (UTC), or None when empty."""
        if not len(self):
            return None
        return to_datetime(self.minutes.min()), to_datetime(self.minutes.max())

    def rows(self) -> list[MinuteFeatures]:
        out = []
        for tenant, minute, row in zip(self.tenants, self.minutes, self.values, strict=True):
            counts = dict(zip(MINUTE_COLUMNS[:-1], (int(round(v)) for v in row[:-1]), strict=True))
            out.append(MinuteFeatures(str(tenant), to_datetime(minute), **counts,
                                      delivery_p99_ms=float(row[-1])))
        return out


@dataclass(frozen=True)
class UserFrame:
    """Per-user listening features of one or more tenants."""

    tenants: np.ndarray  # str, shape (n,)
    user_ids: np.ndarray  # int64, shape (n,)
    values: np.ndarray  # float64, shape (n, len(USER_COLUMNS))

    def __post_init__(self) -> None:
        _check(self.values, USER_COLUMNS, "user features")
        if not (len(self.tenants) == len(self.user_ids) == len(self.values)):
            raise FeatureError("user features: tenants, user ids and values differ in length")
        for name in SHARE_COLUMNS:
            if (self.column(name) > 1).any():
                raise FeatureError(f"user features: {name} is a share and must be within 0..1")

    @classmethod
    def from_rows(cls, rows: Iterable[UserFeatures]) -> UserFrame:
        rows = list(rows)
        return cls(np.array([r.tenant for r in rows], dtype=object),
                   np.array([r.user_id for r in rows], dtype=np.int64),
                   np.array([r.values() for r in rows], dtype=float).reshape(len(rows), len(USER_COLUMNS)))

    def __len__(self) -> int:
        return len(self.values)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, USER_COLUMNS.index(name)]

    def of_tenant(self, tenant: str) -> UserFrame:
        mask = self.tenants == tenant
        return UserFrame(self.tenants[mask], self.user_ids[mask], self.values[mask])


def to_datetime(minute: np.datetime64) -> dt.datetime:
    """A numpy minute as an aware UTC datetime (what the stores and the API speak)."""
    seconds = int(minute.astype("datetime64[s]").astype(np.int64))
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def hourly(frame: MinuteFrame, tenant: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """One tenant's metric per hour on a gap-free index: plays and counts summed, active users averaged.

    Hours with no row count as zero traffic: the pipeline writes no row for a silent minute.
    """
    if metric not in MINUTE_COLUMNS:
        raise FeatureError(f"unknown metric {metric!r}; known: {', '.join(MINUTE_COLUMNS)}")
    own = frame.of_tenant(tenant)
    if not len(own):
        raise FeatureError(f"no minute features for tenant {tenant!r}")
    hours = own.minutes.astype("datetime64[h]")
    index = np.arange(hours.min(), hours.max() + np.timedelta64(1, "h"), dtype="datetime64[h]")
    pos = (hours - index[0]).astype(np.int64)
    column = own.column(metric)
    sums: np.ndarray = np.bincount(pos, weights=column, minlength=len(index)).astype(float)
    if metric in ("active_users", "delivery_p99_ms"):  # levels, not counts: the hour's mean minute
        sums = sums / 60.0
    return index, sums
