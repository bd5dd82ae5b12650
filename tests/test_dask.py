"""The same flow on a local Dask cluster gives the same results as on one machine."""

from __future__ import annotations

import numpy as np

from pipeline.store import Store
from tests.conftest import ROOT, voc


def _results(db) -> dict:
    store = Store(db)
    return {
        "vectors": store.query("SELECT text_hash, vector FROM embeddings ORDER BY text_hash"),
        "assignments": store.query("SELECT message_id, topic_id FROM assignments ORDER BY message_id"),
        "sentiment": store.query("SELECT message_id, label, score FROM sentiment ORDER BY message_id"),
        "weekly": store.query(
            "SELECT week, topic_id, messages, status FROM weekly_stats ORDER BY week, topic_id"
        ),
    }


def test_dask_cluster_run_matches_the_single_machine_run(tmp_path, runtime_env):
    source = ROOT / "demo" / "data" / "email_export.csv"
    runs = {}
    for name, extra in (("single", {}), ("dask", {"VOC_DASK_ADDRESS": "local"})):
        db = tmp_path / f"{name}.duckdb"
        env = {**runtime_env, **extra}
        voc(["ingest", str(source), "--store", str(db)], env)
        out = voc(["run", "--store", str(db)], env).stdout
        assert ("Dask: local" in out) == (name == "dask")
        runs[name] = _results(db)
    single, dask = runs["single"], runs["dask"]
    assert len(single["vectors"]) > 150 and single["vectors"]["text_hash"].equals(
        dask["vectors"]["text_hash"]
    )
    a = np.vstack(single["vectors"]["vector"].to_numpy())
    b = np.vstack(dask["vectors"]["vector"].to_numpy())
    assert np.allclose(a, b, atol=1e-5)
    assert single["assignments"].equals(dask["assignments"])
    assert single["sentiment"]["label"].equals(dask["sentiment"]["label"])
    assert np.allclose(single["sentiment"]["score"], dask["sentiment"]["score"], atol=1e-5)
    assert single["weekly"].equals(dask["weekly"])
