"""The user's path through the real CLI: ingest → run (Prefect flow) → exports, on real messages."""

import json
import shutil

import pandas as pd

from pipeline.store import Store
from tests.conftest import BAD_LINES, PLANTED_PII, voc, write_late_card_message


def test_run_assigns_every_customer_message_and_records_the_run(pipeline_store):
    store = Store(pipeline_store)
    counts = store.counts()
    customers = store.query("SELECT count(*) AS n FROM messages WHERE is_customer")["n"][0]
    assert counts["assignments"] == customers == counts["sentiment"]
    assert counts["topics"] >= 5
    runs = store.query("SELECT * FROM runs")
    assert list(runs["status"]) == ["completed"]
    stages = json.loads(runs["counts"][0])
    assert set(stages) == {"prepare", "encoder", "embed", "topics", "sentiment", "insights"}
    # auto chose the encoder from the customers' languages, said why, and the run record keeps it
    encoder = stages["encoder"]
    assert encoder["model"] == json.loads(runs["parameters"][0])["embedding_model"]
    assert "customer messages not in English" in encoder["reason"]
    store_embedded = set(store.query("SELECT DISTINCT model FROM embeddings")["model"])
    assert encoder["model"] in store_embedded
    assert stages["topics"]["customer_messages"] == customers
    assert 0 <= stages["topics"]["outlier_share"] <= 0.2
    assert runs["flow_run_id"][0]  # a real Prefect flow run
    langs = store.query("SELECT language, count(*) n FROM messages WHERE is_customer GROUP BY 1").set_index(
        "language"
    )
    assert langs.loc["fr", "n"] >= 50 and langs.loc["en", "n"] >= 400
    conv = store.query(
        "SELECT * FROM conversations WHERE n_customer_messages > 1 AND sentiment_change IS NOT NULL"
    )
    assert len(conv) > 10
    assert (conv["sentiment_change"] == conv["sentiment_last"] - conv["sentiment_first"]).all()


def test_exports_have_the_contract_columns(pipeline_store, runtime_env, tmp_path):
    store = str(pipeline_store)
    for what in ("messages", "weekly", "quarantine"):
        proc = voc(["export", what, "--store", store, "--out", str(tmp_path / f"{what}.csv")], runtime_env)
        assert "wrote" in proc.stdout
    messages = pd.read_csv(tmp_path / "messages.csv")
    assert {
        "message_id",
        "conversation_id",
        "channel",
        "author_role",
        "sent_at",
        "language",
        "text",
        "topic_id",
        "topic_label",
        "sentiment_label",
        "sentiment_score",
    } <= set(messages.columns)
    customers = messages[messages["author_role"] == "customer"]
    assert customers["topic_id"].notna().all() and customers["sentiment_label"].notna().all()
    assert messages[messages["author_role"] == "agent"]["topic_id"].isna().all()  # agents give context only
    assert customers["sentiment_score"].between(-1, 1).all()
    for pii in PLANTED_PII:
        assert not messages["text"].str.contains(pii, regex=False).any()

    weekly = pd.read_csv(tmp_path / "weekly.csv")
    assert {"week", "topic_id", "topic_label", "messages", "share", "change", "sentiment", "status"} <= set(
        weekly.columns
    )
    assert weekly["week"].nunique() == 4
    assert pd.to_datetime(weekly["week"]).dt.weekday.eq(0).all()
    assert weekly["status"].isin(["emerging", "growing", "declining", "stable", "dormant"]).all()
    assert weekly.groupby("week")["share"].sum().round(6).eq(1.0).all()

    quarantine = pd.read_csv(tmp_path / "quarantine.csv")
    assert len(quarantine) == len(BAD_LINES)
    assert {"source_file", "source_line", "field", "reason", "raw"} <= set(quarantine.columns)


def test_second_run_is_incremental(pipeline_store, runtime_env, tmp_path):
    """Re-running embeds and scores nothing again; a new file adds only its own messages."""
    store = Store(pipeline_store)
    before = store.counts()
    ids_before = store.query("SELECT message_id, topic_id FROM assignments")
    new = write_late_card_message(tmp_path / "new.jsonl", "late-1", "sms")
    proc = voc(["ingest", str(new), "--store", str(pipeline_store)], runtime_env)
    assert "1 stored, 0 skipped as duplicates, 0 quarantined" in proc.stdout
    voc(["run", "--store", str(pipeline_store)], runtime_env)
    runs = store.query("SELECT counts FROM runs WHERE status = 'completed' ORDER BY started_at")
    latest = json.loads(runs["counts"].iloc[-1])
    assert latest["embed"]["embedded"] == 1
    assert latest["sentiment"]["scored"] == 1
    assert latest["prepare"]["prepared"] == 1
    after = store.counts()
    assert after["messages"] == before["messages"] + 1
    assert after["assignments"] == before["assignments"] + 1
    # one new message fits the known topics: it is assigned, nothing is re-fitted, no id changes
    assert latest["topics"]["mode"] == "assign" and latest["topics"]["new_messages"] == 1
    ids_after = store.query("SELECT message_id, topic_id FROM assignments")
    both = ids_before.merge(ids_after, on="message_id", suffixes=("_before", "_after"))
    assert (both["topic_id_before"] == both["topic_id_after"]).all()
    card = store.query(
        "SELECT a.topic_id, t.label FROM assignments a JOIN messages m USING (message_id) "
        "JOIN topics t USING (topic_id) WHERE m.conversation_id = 'late-1'"
    )
    assert card["topic_id"][0] >= 0  # a plain "card not arrived" message joins a topic


def test_a_new_encoder_refits_the_topics_and_keeps_their_ids(pipeline_store, runtime_env, tmp_path):
    """Naming another encoder re-cuts the topics in its space; ids carry over; auto then keeps it."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(pipeline_store, db)
    store = Store(db)

    def latest() -> tuple[dict, dict]:
        sql = "SELECT counts, parameters FROM runs WHERE status = 'completed' ORDER BY started_at"
        row = store.query(sql)
        return json.loads(row["counts"].iloc[-1]), json.loads(row["parameters"].iloc[-1])

    first = latest()[1]["embedding_model"]
    other = "all-MiniLM-L6-v2" if first == "multilingual-e5-small" else "multilingual-e5-small"
    ids_before = store.query("SELECT message_id, topic_id FROM assignments")
    voc(["run", "--store", str(db)], {**runtime_env, "VOC_EMBEDDING_MODEL": other})
    counts, parameters = latest()
    assert counts["encoder"]["model"] == parameters["embedding_model"] == other
    assert counts["encoder"]["refit"] and first in counts["encoder"]["reason"]
    assert counts["topics"]["mode"] == "refit" and counts["embed"]["embedded"] > 0
    both = ids_before.merge(store.query("SELECT message_id, topic_id FROM assignments"), on="message_id")
    assert (both["topic_id_x"] == both["topic_id_y"]).mean() >= 0.9  # messages keep their topic
    voc(["run", "--store", str(db)], runtime_env)  # back to auto: the store keeps its new encoder
    counts, parameters = latest()
    assert parameters["embedding_model"] == other and not counts["encoder"]["refit"]
    assert counts["encoder"]["reason"].startswith("kept") and counts["topics"]["mode"] == "assign"


def test_errors_are_one_line_with_nonzero_exit(runtime_env, tmp_path):
    proc = voc(
        ["ingest", str(tmp_path / "missing.jsonl"), "--store", str(tmp_path / "s.duckdb")],
        runtime_env,
        check=False,
    )
    assert proc.returncode != 0
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = voc(["run", "--store", str(tmp_path / "none.duckdb")], runtime_env, check=False)
    assert proc.returncode != 0 and "voc ingest" in proc.stderr and "Traceback" not in proc.stderr
