"""Synthetic traffic worth learning from: seasonal minutes, several tenants, anomalies with ground truth.

Pure (a seeded numpy generator in, frames out), so the tests, the benchmark and
`spotctl analytics simulate` see the very same data for the same seed; `history.py` writes it.

Traffic per tenant is a Poisson process whose rate has a daily shape (trough at 04:00, peak in the
evening), a weekly one (weekends louder, later), a small growth trend and each day's own level. Injected anomalies are
windows of a few minutes where some metrics are multiplied; each is returned as ground truth so a
detector's precision and recall can be measured against it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from spotctl_sandbox.analytics.ml.features import MINUTE_COLUMNS, USER_COLUMNS, MinuteFrame, UserFrame, to_datetime

DEFAULT_TENANTS = ("sim-north", "sim-south", "sim-east")
TENANT_SCALE = (400.0, 150.0, 60.0)  # mean plays per minute of the 1st, 2nd, 3rd... tenant (cycled)


class AnomalyKind(StrEnum):
    OUTAGE = "outage"  # plays and users collapse, errors and latency jump
    ERROR_SPIKE = "error_spike"  # errors x10+, latency up
    LATENCY = "latency"  # delivery p99 x3..5
    SURGE = "surge"  # plays and users x2.5..4 (a viral release)
    DROP = "drop"  # plays and users halve (a client bug): the subtlest


# kind -> (min, max duration in minutes), {column: (min factor, max factor)}
_EFFECTS: dict[AnomalyKind, tuple[tuple[int, int], dict[str, tuple[float, float]]]] = {
    AnomalyKind.OUTAGE: ((5, 20), {"plays": (0.1, 0.3), "active_users": (0.2, 0.4), "errors": (15, 30),
                                   "delivery_p99_ms": (1.5, 2.5)}),
    AnomalyKind.ERROR_SPIKE: ((5, 15), {"errors": (10, 25), "delivery_p99_ms": (1.5, 2.0)}),
    AnomalyKind.LATENCY: ((10, 30), {"delivery_p99_ms": (3.0, 5.0)}),
    AnomalyKind.SURGE: ((10, 30), {"plays": (2.5, 4.0), "active_users": (2.5, 3.5), "hub_messages": (2.5, 4.0)}),
    AnomalyKind.DROP: ((15, 40), {"plays": (0.4, 0.55), "active_users": (0.45, 0.6)}),
}


@dataclass(frozen=True)
class SimConfig:
    tenants: tuple[str, ...] = DEFAULT_TENANTS
    days: float = 14
    end: dt.datetime | None = None  # exclusive, minute-aligned UTC; None = this minute
    seed: int = 0
    anomalies_per_day: float = 1.0  # per tenant
    users_per_tenant: int = 300
    #: mean plays per minute of the first tenant (the others get 3/8 and 3/20 of it); match it to the
    #: live traffic a detector trained on this history will score
    scale: float = TENANT_SCALE[0]

    def __post_init__(self) -> None:
        if not self.tenants:
            raise ValueError("at least one tenant is needed")
        if len(set(self.tenants)) != len(self.tenants) or any(not t.strip() for t in self.tenants):
            raise ValueError("tenant names must be unique and non-empty")
        if not 1 / 24 <= self.days <= 400:
            raise ValueError("days must be between 1/24 (one hour) and 400")
        if self.anomalies_per_day < 0 or self.users_per_tenant < 0:
            raise ValueError("anomalies per day and users per tenant cannot be negative")
        if not 0.1 <= self.scale <= 1_000_000:
            raise ValueError("scale (mean plays per minute) must be between 0.1 and 1,000,000")


@dataclass(frozen=True)
class InjectedAnomaly:
    tenant: str
    kind: AnomalyKind
    start: dt.datetime  # first minute inside
    end: dt.datetime  # first minute after
    factors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Simulation:
    config: SimConfig
    minutes: MinuteFrame
    users: UserFrame
    anomalies: tuple[InjectedAnomaly, ...]
    user_archetypes: np.ndarray  # ground truth of the user generator, for checking segmentation

    def truth(self) -> np.ndarray:
        """Per row of `minutes`: True inside an injected anomaly."""
        return anomaly_mask(self.minutes, self.anomalies)


def anomaly_mask(frame: MinuteFrame, anomalies: tuple[InjectedAnomaly, ...] | list[InjectedAnomaly]) -> np.ndarray:
    mask = np.zeros(len(frame), dtype=bool)
    for a in anomalies:
        start, end = (np.datetime64(t.astimezone(dt.UTC).replace(tzinfo=None), "m") for t in (a.start, a.end))
        mask |= (frame.tenants == a.tenant) & (frame.minutes >= start) & (frame.minutes < end)
    return mask


def daily_shape(minute_of_day: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Relative load over a day, mean ~1: trough ~04:00, evening peak (later and flatter on weekends)."""
    hours = minute_of_day / 60.0
    peak = np.where(weekend, 21.0, 20.0)
    shape = 1.0 + 0.6 * np.cos(2 * np.pi * (hours - peak) / 24) + 0.15 * np.cos(4 * np.pi * (hours - 12.5) / 24)
    return np.maximum(shape, 0.08)


def day_factors(rng: np.random.Generator, since_epoch: np.ndarray) -> np.ndarray:
    """Each day's own level (weather, news, a campaign): AR(1) in log space, wandering for days, smooth within one.

    Real traffic is never a copy of last week; without this the seasonal-naive baseline would be perfect.
    """
    days = since_epoch // 1440
    first, last = int(days.min()), int(days.max()) + 2
    log_level = np.zeros(last - first)
    for d in range(1, len(log_level)):
        log_level[d] = 0.9 * log_level[d - 1] + rng.normal(0, 0.04)
    noon = (np.arange(first, last) * 1440 + 720).astype(float)
    return np.exp(np.interp(since_epoch.astype(float), noon, log_level))


def _simulate_tenant(rng: np.random.Generator, scale: float, minutes: np.ndarray) -> np.ndarray:
    since_epoch = minutes.astype(np.int64)  # minutes since 1970 (UTC)
    minute_of_day = since_epoch % 1440
    weekday = ((since_epoch // 1440) + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    weekend = weekday >= 5
    weeks = (since_epoch - since_epoch[0]) / (1440 * 7)
    rate = (scale * daily_shape(minute_of_day, weekend) * np.where(weekend, 1.25, 1.0) * (1 + 0.01 * weeks)
            * day_factors(rng, since_epoch))
    plays = rng.poisson(rate)
    users = rng.poisson(rate * 0.4)
    values = np.column_stack([
        plays,
        users,
        rng.poisson(rate * 0.3),  # searches
        rng.poisson(rate * 0.01),  # signups
        rng.poisson(rate * 0.002 + 0.2),  # errors
        rng.poisson(users * 2.0),  # hub messages
        (80.0 + 0.05 * rate) * rng.lognormal(0.0, 0.08, len(minutes)),  # delivery p99 (ms)
    ]).astype(float)
    return values


def _place_anomalies(rng: np.random.Generator, tenant: str, minutes: np.ndarray, count: int) -> list[InjectedAnomaly]:
    """`count` non-overlapping windows (with a gap of an hour), none in the first day (the warm-up)."""
    placed: list[tuple[int, int]] = []
    out: list[InjectedAnomaly] = []
    first = min(1440, len(minutes) // 4)
    for _ in range(count * 20):
        if len(out) == count:
            break
        kind = AnomalyKind(rng.choice([k.value for k in AnomalyKind]))
        (low, high), effects = _EFFECTS[kind]
        length = int(rng.integers(low, high + 1))
        if len(minutes) - length <= first:
            break
        start = int(rng.integers(first, len(minutes) - length))
        if any(start < e + 60 and s < start + length + 60 for s, e in placed):
            continue
        placed.append((start, start + length))
        factors = {col: round(float(rng.uniform(lo, hi)), 3) for col, (lo, hi) in effects.items()}
        out.append(InjectedAnomaly(tenant, kind, to_datetime(minutes[start]),
                                   to_datetime(minutes[start + length]), factors))
    return out


def _apply(values: np.ndarray, minutes: np.ndarray, anomaly: InjectedAnomaly) -> None:
    start = np.datetime64(anomaly.start.astimezone(dt.UTC).replace(tzinfo=None), "m")
    end = np.datetime64(anomaly.end.astimezone(dt.UTC).replace(tzinfo=None), "m")
    inside = (minutes >= start) & (minutes < end)
    for col, factor in anomaly.factors.items():
        j = MINUTE_COLUMNS.index(col)
        values[inside, j] = values[inside, j] * factor + (20 if col == "errors" else 0)
    counts = [MINUTE_COLUMNS.index(c) for c in MINUTE_COLUMNS if c != "delivery_p99_ms"]
    values[:, counts] = np.round(values[:, counts])


# archetype -> mean of (plays_7d, distinct_songs share, distinct_artists share, night_share, weekend_share)
ARCHETYPES = {
    "casual": (12, 0.8, 0.6, 0.10, 0.30),
    "heavy": (260, 0.45, 0.15, 0.15, 0.28),
    "night_owl": (90, 0.6, 0.3, 0.70, 0.30),
    "weekend": (45, 0.7, 0.4, 0.15, 0.85),
    "explorer": (120, 0.95, 0.75, 0.20, 0.30),
}


def _simulate_users(rng: np.random.Generator, tenant: str, count: int, first_id: int) -> tuple[UserFrame, np.ndarray]:
    names = list(ARCHETYPES)
    kinds = rng.choice(len(names), size=count, p=[0.35, 0.15, 0.15, 0.15, 0.2])
    means = np.array([ARCHETYPES[n] for n in names])[kinds]
    plays = np.maximum(1, rng.poisson(means[:, 0] * rng.lognormal(0, 0.25, count)))
    songs = np.clip(np.round(plays * np.clip(rng.normal(means[:, 1], 0.06), 0.02, 1)), 1, plays)
    artists = np.clip(np.round(songs * np.clip(rng.normal(means[:, 2], 0.06), 0.02, 1)), 1, songs)
    night = np.clip(rng.normal(means[:, 3], 0.06), 0, 1)
    weekend = np.clip(rng.normal(means[:, 4], 0.06), 0, 1)
    values = np.column_stack([plays, songs, artists, night, weekend, plays / 7.0]).astype(float)
    assert values.shape[1] == len(USER_COLUMNS)
    frame = UserFrame(np.full(count, tenant, dtype=object), np.arange(first_id, first_id + count, dtype=np.int64),
                      values)
    return frame, np.array(names, dtype=object)[kinds]


def simulate(config: SimConfig) -> Simulation:
    """The same config (seed included) always gives the same simulation."""
    rng = np.random.default_rng(config.seed)
    end = config.end or dt.datetime.now(dt.UTC)
    end_m = np.datetime64(end.astimezone(dt.UTC).replace(tzinfo=None, second=0, microsecond=0), "m")
    count = int(round(config.days * 1440))
    minutes = np.arange(end_m - np.timedelta64(count, "m"), end_m, dtype="datetime64[m]")
    tenants, stamps, values, anomalies, users, archetypes = [], [], [], [], [], []
    for i, tenant in enumerate(config.tenants):
        scale = TENANT_SCALE[i % len(TENANT_SCALE)] * config.scale / TENANT_SCALE[0]
        tenant_values = _simulate_tenant(rng, scale, minutes)
        injected = _place_anomalies(rng, tenant, minutes, int(round(config.anomalies_per_day * config.days)))
        for anomaly in injected:
            _apply(tenant_values, minutes, anomaly)
        tenants.append(np.full(count, tenant, dtype=object))
        stamps.append(minutes)
        values.append(tenant_values)
        anomalies.extend(injected)
        user_frame, kinds = _simulate_users(rng, tenant, config.users_per_tenant, 1 + i * 1_000_000)
        users.append(user_frame)
        archetypes.append(kinds)
    return Simulation(
        config=config,
        minutes=MinuteFrame(np.concatenate(tenants), np.concatenate(stamps), np.concatenate(values)),
        users=UserFrame(np.concatenate([u.tenants for u in users]), np.concatenate([u.user_ids for u in users]),
                        np.concatenate([u.values for u in users])),
        anomalies=tuple(sorted(anomalies, key=lambda a: (a.start, a.tenant))),
        user_archetypes=np.concatenate(archetypes),
    )
