"""The run record: one row per pipeline run with status, counts, durations and parameters."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pandas as pd

from pipeline.store import Store


def new_run_id() -> str:
    return datetime.now(UTC).strftime("run-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]


def record_run(
    store: Store,
    run_id: str,
    *,
    status: str,
    started_at: datetime,
    flow_run_id: str | None = None,
    ended_at: datetime | None = None,
    counts: dict | None = None,
    parameters: dict | None = None,
    error: str | None = None,
) -> None:
    row = {
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "started_at": started_at,
        "ended_at": ended_at,
        "status": status,
        "counts": json.dumps(counts or {}, default=str),
        "parameters": json.dumps(parameters or {}, default=str),
        "error": error,
    }
    store.upsert("runs", pd.DataFrame([row]))
