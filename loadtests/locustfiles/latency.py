"""latency: rooms of `room_size` members; each room's leader publishes on a fixed schedule.

Deliveries are timed from the *scheduled* send time by one member in `probe_every` and merged as HDR
histograms across workers; p50/p99/max land in summary.json and, per delivery, in Locust's stats.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadtests.users import WsUser, install


class RoomMember(WsUser):
    pass


@events.init.add_listener
def _install(environment: Any, **_: Any) -> None:
    install(environment, measures_latency=True)
