"""Write a simulation where live traffic lands: the feature tables, the ground truth, InfluxDB.

The minutes and users are upserted (a re-run with the same window overwrites, never duplicates), the
ground truth of the window is replaced in the same transaction as the minutes, so the recorded truth
always describes exactly the minutes stored. InfluxDB is written after PostgreSQL commits.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from spotctl_sandbox.analytics.ml import influx, store
from spotctl_sandbox.analytics.ml.simulate import SimConfig, Simulation, simulate


@dataclass(frozen=True)
class SimulationReport:
    tenants: tuple[str, ...]
    window_start: dt.datetime
    window_end: dt.datetime
    minutes: int
    users: int
    anomalies: int
    influx_points: int  # 0 when no InfluxDB URL was given
    elapsed_s: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def write_simulation(conn: psycopg.Connection[Any], sim: Simulation, influx_url: str | None,
                     redis_url: str | None = None) -> SimulationReport:
    """`redis_url` is the spill buffer of the engine's TimeSeriesStorage (needed with `influx_url`)."""
    started = time.perf_counter()
    window = sim.minutes.window()
    if window is None:
        raise ValueError("the simulation holds no minutes")
    end = window[1] + dt.timedelta(minutes=1)
    with conn.transaction():
        store.migrate(conn)
        store.write_minutes(conn, sim.minutes)
        store.write_users(conn, sim.users)
        store.write_ground_truth(conn, sim.anomalies, sim.config.seed, (window[0], end), sim.config.tenants)
    if influx_url and not redis_url:
        raise ValueError("writing to InfluxDB needs the Redis URL of its spill buffer")
    points = influx.write_history(influx_url, sim.minutes, redis_url) if influx_url and redis_url else 0
    return SimulationReport(sim.config.tenants, window[0], end, len(sim.minutes), len(sim.users),
                            len(sim.anomalies), points, round(time.perf_counter() - started, 3))


def simulate_into(database_url: str, config: SimConfig, influx_url: str | None,
                  redis_url: str | None = None) -> SimulationReport:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        return write_simulation(conn, simulate(config), influx_url, redis_url)
