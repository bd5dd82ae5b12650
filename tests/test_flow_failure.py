"""A failing stage is recorded as a failed run (in a real Prefect run) and loses what was stored."""

import json

import pytest

from pipeline.ingest import ingest
from pipeline.store import Store


def test_failed_stage_is_recorded_and_earlier_stages_kept(prefect_server, tmp_path, fixture_file):
    from flows.voc_pipeline import voc_pipeline

    store = Store(tmp_path / "voc.duckdb")
    ingest([fixture_file], store)
    with pytest.raises(Exception, match="no-such-model"):
        voc_pipeline(str(store.path), {"embedding_model": str(tmp_path / "no-such-model")})
    run = store.query("SELECT status, error, counts FROM runs")
    assert list(run["status"]) == ["failed"]
    assert "no-such-model" in run["error"][0]
    assert "prepare" in json.loads(run["counts"][0])  # the stage before the failure finished and is kept
    assert store.query("SELECT count(*) n FROM messages WHERE prepared_at IS NULL")["n"][0] == 0
