"""ModelManager: versions, artifacts and promotion of the three models, and loading what is promoted.

A trained model is a joblib file under the object-store folder (`<models dir>/<name>/v<N>.joblib`,
the stack's media volume) and a row of `analytics_models` with its parameters, evaluation metrics,
data window and the file's sha256. The file is written first (to a temporary name, then renamed) and
the row second, in one transaction that also numbers the version; if the row cannot be written the
file is removed, so the registry never points at nothing and nothing lies around unregistered.
Loading checks the hash before unpickling: only files this registry wrote are ever loaded.

The first version of a model is promoted at once (a model nobody can use helps nobody); later ones
stay candidates until `promote` — one promoted version per name, enforced by a unique index.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import psycopg

from spotctl_sandbox.analytics.ml import store
from spotctl_sandbox.analytics.ml.anomaly import AnomalyDetector
from spotctl_sandbox.analytics.ml.forecast import PredictiveAnalytics
from spotctl_sandbox.analytics.ml.segments import BehaviorAnalyzer
from spotctl_sandbox.common.env import Env

MODEL_NAMES = ("anomaly_detector", "predictive_analytics", "behavior_analyzer")
MODEL_CLASSES: dict[str, type] = {"anomaly_detector": AnomalyDetector, "predictive_analytics": PredictiveAnalytics,
                                  "behavior_analyzer": BehaviorAnalyzer}
LOCK_BASE = 0x5_907_D00  # advisory lock per model name while numbering a version
RECHECK_S = 30.0  # how often a process asks the registry whether another one promoted a new version


class ModelNotTrained(LookupError):
    """No promoted version of the model exists: the message says how to train one."""

    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} is not trained yet: train it with `spotctl analytics train {name}` "
                         f"or POST /analytics/ml/train {{\"model\": \"{name}\"}} (analyst role); with no "
                         f"traffic history yet, `spotctl analytics simulate --yes` writes some")
        self.name = name


class UnknownModel(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class ArtifactError(RuntimeError):
    """A registered artifact is missing or does not match its recorded hash."""


@dataclass(frozen=True)
class ModelRecord:
    name: str
    version: int
    status: str  # candidate | promoted | retired
    params: dict[str, Any]
    metrics: dict[str, Any]
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    tenants: tuple[str, ...]
    artifact_path: str
    created_at: dt.datetime
    promoted_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


COLUMNS = ("name, version, status, params, metrics, window_start, window_end, tenants, artifact_path, "
           "created_at, promoted_at")


def _record(row: tuple[Any, ...]) -> ModelRecord:
    return ModelRecord(row[0], int(row[1]), row[2], dict(row[3]), dict(row[4]), row[5], row[6], tuple(row[7]),
                       row[8], row[9], row[10])


def default_models_dir() -> Path:
    """MODELS_DIR, else `models/` beside MEDIA_DIR in the stack's media volume (the object-store folder)."""
    env = Env()
    explicit = env.optional("MODELS_DIR")
    if explicit:
        return Path(explicit)
    media = env.optional("MEDIA_DIR")
    return (Path(media).parent if media else Path(".")) / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelManager:
    def __init__(self, database_url: str, models_dir: Path | None = None) -> None:
        self.database_url = database_url
        self.models_dir = models_dir or default_models_dir()
        self._loaded: dict[str, tuple[int, Any]] = {}  # name -> (version, model)
        self._checked: dict[str, float] = {}  # name -> monotonic time the registry was last asked
        self._lock = threading.Lock()
        self._migrated = False

    def connect(self) -> psycopg.Connection[Any]:
        """A connection to the registry's database, its tables made on the first: on a fresh stack
        the first ask may be a promote or a forecast, not a training (that was an UndefinedTable 500)."""
        conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        if not self._migrated:
            store.migrate(conn)
            self._migrated = True
        return conn

    # -- lifecycle -------------------------------------------------------------------------------

    def register(self, name: str, model: Any, metrics: dict[str, Any],
                 window: tuple[dt.datetime, dt.datetime] | None, tenants: list[str],
                 promote: bool | None = None) -> ModelRecord:
        """Store a fitted model as the next version; promote it if asked, or if it is the first."""
        if name not in MODEL_CLASSES:
            raise UnknownModel(name)
        folder = self.models_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        joblib.dump(model, tmp, compress=3)
        sha = _sha256(tmp)
        final: Path | None = None
        try:
            with self.connect() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_BASE + MODEL_NAMES.index(name),))
                row = conn.execute("SELECT coalesce(max(version), 0) + 1, bool_or(status = 'promoted') "
                                   "FROM analytics_models WHERE name = %s", (name,)).fetchone()
                assert row is not None
                version, has_promoted = int(row[0]), bool(row[1])
                final = folder / f"v{version}.joblib"
                os.replace(tmp, final)
                go_live = promote if promote is not None else not has_promoted
                if go_live:
                    conn.execute("UPDATE analytics_models SET status = 'retired' WHERE name = %s "
                                 "AND status = 'promoted'", (name,))
                params = model.params() if hasattr(model, "params") else {}
                inserted = conn.execute(
                    f"INSERT INTO analytics_models (name, version, status, params, metrics, window_start, window_end, "
                    f"tenants, artifact_path, artifact_sha256, promoted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                    f"%s, %s, CASE WHEN %s THEN now() END) RETURNING {COLUMNS}",
                    (name, version, "promoted" if go_live else "candidate", json.dumps(params, default=str),
                     json.dumps(metrics, default=str), *(window or (None, None)), tenants,
                     str(final.relative_to(self.models_dir)), sha, go_live)).fetchone()
                assert inserted is not None
        except BaseException:
            for leftover in (tmp, final):
                if leftover is not None:
                    leftover.unlink(missing_ok=True)
            raise
        record = _record(inserted)
        if go_live:
            with self._lock:
                self._loaded[name] = (version, model)
                self._checked[name] = time.monotonic()
        return record

    def promote(self, name: str, version: int) -> ModelRecord:
        if name not in MODEL_CLASSES:
            raise UnknownModel(name)
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_BASE + MODEL_NAMES.index(name),))
            exists = conn.execute("SELECT 1 FROM analytics_models WHERE name = %s AND version = %s",
                                  (name, version)).fetchone()
            if exists is None:
                known = [r[0] for r in conn.execute("SELECT version FROM analytics_models WHERE name = %s "
                                                    "ORDER BY version", (name,)).fetchall()]
                raise LookupError(f"{name} has no version {version}; versions: {known or 'none (train one)'}")
            conn.execute("UPDATE analytics_models SET status = 'retired' WHERE name = %s AND status = 'promoted' "
                         "AND version <> %s", (name, version))
            row = conn.execute(f"UPDATE analytics_models SET status = 'promoted', promoted_at = now() "
                               f"WHERE name = %s AND version = %s RETURNING {COLUMNS}", (name, version)).fetchone()
        assert row is not None
        with self._lock:
            self._loaded.pop(name, None)  # the next get_model loads the promoted artifact
        return _record(row)

    def list_models(self, name: str | None = None) -> list[ModelRecord]:
        if name is not None and name not in MODEL_CLASSES:
            raise UnknownModel(name)
        with self.connect() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM analytics_models" + (" WHERE name = %s" if name else "")
                                + " ORDER BY name, version DESC", (name,) if name else ()).fetchall()
        return [_record(r) for r in rows]

    # -- loading ---------------------------------------------------------------------------------

    def load_all_models(self) -> dict[str, int]:
        """Load every promoted model into memory; returns name -> version of what was loaded."""
        with self.connect() as conn:
            rows = conn.execute("SELECT name, version, artifact_path, artifact_sha256 FROM analytics_models "
                                "WHERE status = 'promoted'").fetchall()
        loaded = {}
        for name, version, path, sha in rows:
            if name in MODEL_CLASSES:
                self._load(name, int(version), path, sha)
                loaded[name] = int(version)
        return loaded

    def _load(self, name: str, version: int, path: str, sha: str) -> Any:
        full = self.models_dir / path
        if not full.is_file():
            raise ArtifactError(f"{name} v{version}: artifact {full} is missing (was the media volume "
                                f"deleted?); retrain with `spotctl analytics train {name}`")
        if _sha256(full) != sha:
            raise ArtifactError(f"{name} v{version}: artifact {full} does not match its recorded sha256; "
                                f"refusing to load it")
        model = joblib.load(full)
        if not isinstance(model, MODEL_CLASSES[name]):
            raise ArtifactError(f"{name} v{version}: artifact holds a {type(model).__name__}")
        with self._lock:
            self._loaded[name] = (version, model)
            self._checked[name] = time.monotonic()
        return model

    def get_model(self, name: str) -> Any:
        """The promoted model, from memory or loaded now; ModelNotTrained if there is none."""
        return self.get_versioned(name)[1]

    def get_versioned(self, name: str) -> tuple[int, Any]:
        if name not in MODEL_CLASSES:
            raise UnknownModel(name)
        now = time.monotonic()
        with self._lock:
            held = self._loaded.get(name)
            fresh = now - self._checked.get(name, -RECHECK_S) < RECHECK_S
        if held is not None and fresh:
            return held
        with self.connect() as conn:
            row = conn.execute("SELECT version, artifact_path, artifact_sha256 FROM analytics_models "
                               "WHERE name = %s AND status = 'promoted'", (name,)).fetchone()
        with self._lock:
            self._checked[name] = now
        if row is None:
            raise ModelNotTrained(name)
        if held is not None and held[0] == int(row[0]):
            return held
        return int(row[0]), self._load(name, int(row[0]), row[1], row[2])
