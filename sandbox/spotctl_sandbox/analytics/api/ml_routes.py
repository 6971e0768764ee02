"""/analytics/ml on the analytics API: the ml side's router with this API's JWT roles (see ml/router.py)."""

from __future__ import annotations

from spotctl_sandbox.analytics.api.auth import Role, require
from spotctl_sandbox.analytics.ml.router import create_router

router = create_router(require(Role.viewer), require(Role.analyst), require(Role.admin))
