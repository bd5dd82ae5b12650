"""The ``voc_scheduled`` flow: pull every configured source, then run ``voc_pipeline`` on the store.

This is what ``voc serve`` (and the deployment in ``prefect.yaml``) runs on the schedule. Each source
is one task with retries and exponential backoff (a share that is briefly unreachable, a file still
being copied); a source that still fails is recorded in the run and the others go on. The ingest
watermark makes a pull take only new files and rows, and the store decides what the pipeline still
has to do, so a run after a crash resumes where the last one stopped.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from flows.voc_pipeline import pipeline_flow
from pipeline.privacy import privacy_from
from pipeline.pull import pull_source
from pipeline.store import Store
from voc.config import SourceSettings, run_parameters, settings_from_parameters


@task(
    name="pull-source",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_jitter_factor=0.5,
    cache_policy=NO_CACHE,
    tags=["voc-source"],
)
def pull_source_task(store_path: str, source: dict[str, Any], settings: dict[str, Any]) -> dict:
    spec = SourceSettings.model_validate(source)
    cfg = settings_from_parameters(settings)
    tz = cfg.business_timezone
    report = pull_source(spec, Store(store_path, timezone=tz), cfg.business_names, tz, privacy_from(cfg))
    return {
        "files": report.files,
        "unchanged_files": report.unchanged_files,
        "read": report.read,
        "stored": report.stored,
        "quarantined": report.quarantined,
    }


@flow(name="voc_scheduled")
def voc_scheduled(store_path: str, settings: dict[str, Any] | None = None) -> dict:
    """Pull the configured sources, then run the pipeline; returns its counts with the pulls."""
    cfg = settings_from_parameters(settings)
    logger = get_run_logger()
    pulled: dict[str, dict] = {}
    for source in cfg.pull_sources():
        state = pull_source_task(store_path, source.model_dump(), settings or {}, return_state=True)
        if state.is_completed():
            pulled[source.name] = state.result()
        else:
            pulled[source.name] = {"error": str(state.message or state.name)}
            logger.error("source %s failed after retries: %s", source.name, state.message)
    return pipeline_flow(cfg.dask_address)(store_path, run_parameters(cfg), pulled=pulled)
