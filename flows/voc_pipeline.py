"""The ``voc_pipeline`` flow: prepare → embed → topics → sentiment → insights, each stage a task.

Every task reads its inputs from the store and writes its outputs back, keyed by ids, so a run that
stops halfway is finished by the next one. Tasks take the store path (never a connection) and plain
settings; the store itself decides what is new, so no Prefect result cache is needed.
"""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from models.embedder import Embedder
from models.sentiment import SentimentModel
from models.static_encoder import static_name
from pipeline import embeddings, encoder_choice, prepare, projection, runs, sentiment_store, topic_update
from pipeline.insights import refresh_insights
from pipeline.store import Store
from voc.config import run_parameters, settings_from_parameters

EMBED_BATCH = 2048
STATIC_BATCH = 1024  # a static encoder is a table lookup: large batches, no padding cost to speak of
# Projected vectors are cheap to compute, but each save costs a DuckDB checkpoint, which
# rewrites the embeddings index: 1.6-2.4 s per save into a 1M-message store whatever its size (a
# 32,768-vector save took 3.7 s), so they are saved in large chunks.
PROJECTED_CHUNK = 32_768


@task(name="prepare", cache_policy=NO_CACHE)
def prepare_task(store_path: str, languages: list[str], default_language: str) -> dict[str, int]:
    return prepare.prepare_messages(Store(store_path), languages, default_language)


def _in_chunks(todo: pd.DataFrame, submit, save, size: int = EMBED_BATCH) -> int:
    """Submit each chunk of ``todo`` to the task runner, then save the results in order as they come
    back (each save commits, so a crash loses one chunk); returns the total ``save`` reported."""
    chunks = [todo.iloc[start : start + size] for start in range(0, len(todo), size)]
    futures = [submit(chunk) for chunk in chunks]
    return sum(save(chunk, future.result()) for chunk, future in zip(chunks, futures, strict=True))


@task(name="encode", cache_policy=NO_CACHE, retries=1)
def encode_task(
    texts: list[str], model: str, batch_size: int, precision: str = "float32", show_progress: bool = False
) -> np.ndarray:
    """Sentence vectors for one chunk of texts (runs wherever the task runner puts it)."""
    embedder = Embedder(model, batch_size=batch_size, precision=precision)
    return embedder.transform(texts, show_progress=show_progress)


def embed_stage(
    store_path: str, model: str, batch_size: int, precision: str = "float32", show_progress: bool = False
) -> dict[str, int]:
    """Embed every text the store has no vector for: chunks go to the task runner (threads, or a Dask
    cluster), and each chunk's vectors are committed as it comes back, so a crash loses one chunk."""
    store = Store(store_path)
    todo = embeddings.pending_texts(store, model)
    done = _in_chunks(
        todo,
        lambda c: encode_task.submit(c["text"].tolist(), model, batch_size, precision, show_progress),
        lambda c, vectors: embeddings.save_vectors(store, model, c["text_hash"].tolist(), vectors),
    )
    return {"embedded": done}


@task(name="project", cache_policy=NO_CACHE, retries=1)
def project_task(texts: list[str], static_model: str, proj: projection.Projection) -> np.ndarray:
    """Fast mode: static vectors for one chunk of texts, mapped into the transformer's space."""
    return proj.apply(Embedder(static_model, batch_size=STATIC_BATCH).transform(texts))


def fast_embed_stage(
    store_path: str,
    model: str,
    batch_size: int,
    precision: str,
    fit_sample: int,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Fast mode's embedding: the transformer for the texts in the sample (a fixed function of each
    text's hash, sized to about ``fit_sample`` texts), projected static vectors for the others. The
    projection is fitted on the sample the first time it is needed, then kept."""
    store = Store(store_path)
    static, projected = static_name(model), projection.projected_name(model)
    todo = embeddings.pending_texts(store, model, also=projected)
    rate = projection.sample_rate(embeddings.distinct_customer_texts(store), fit_sample)
    sampled = projection.in_sample(todo["text_hash"], rate)
    exact = _in_chunks(
        todo[sampled],
        lambda c: encode_task.submit(c["text"].tolist(), model, batch_size, precision, show_progress),
        lambda c, vectors: embeddings.save_vectors(store, model, c["text_hash"].tolist(), vectors),
    )
    rest = todo[~sampled]
    proj = projection.load(store, model)
    if proj is None and len(rest):
        texts, X = embeddings.exact_vectors(store, model, fit_sample)
        proj = projection.fit(Embedder(static, batch_size=STATIC_BATCH).transform(texts), X)
        projection.save(store, model, static, proj)
    placed = _in_chunks(
        rest,
        lambda c: project_task.submit(c["text"].tolist(), static, proj),
        lambda c, vectors: embeddings.save_vectors(store, projected, c["text_hash"].tolist(), vectors),
        size=PROJECTED_CHUNK,
    )
    return {
        "embedded": exact,
        "projected": placed,
        "sample_rate": round(rate, 4),
        "projection_cosine": round(proj.held_out_cosine, 4) if proj else None,
    }


@task(name="encoder", cache_policy=NO_CACHE)
def encoder_task(store_path: str, configured: str, fast: bool) -> dict[str, Any]:
    """The topic encoder: as configured, or for ``auto`` the store's earlier choice or its language mix."""
    choice = encoder_choice.choose_encoder(Store(store_path), configured, fast)
    return {"model": choice.model, "reason": choice.reason, "refit": choice.refit}


@task(name="topics", cache_policy=NO_CACHE)
def topics_task(store_path: str, model: str, settings: dict[str, Any], run_id: str) -> dict[str, Any]:
    fallback = projection.projected_name(model) if settings["fast"] else None
    return topic_update.update_topics(
        Store(store_path),
        model,
        settings["topics"],
        settings["spacy_models"],
        run_id,
        settings["refit"],
        fallback,
    )


@task(name="score-sentiment", cache_policy=NO_CACHE, retries=1)
def score_task(vectors: np.ndarray, name: str) -> np.ndarray:
    """Class probabilities for one chunk of message vectors."""
    return SentimentModel.named(name).predict_proba(vectors)


def sentiment_stage(
    store_path: str, name: str, batch_size: int, precision: str = "float32", fast: bool = False
) -> dict[str, int]:
    """Score every customer message not scored yet. In fast mode the model reads the topic stage's
    vectors (exact or projected: config makes sure they are its space) instead of embedding again."""
    store = Store(store_path)
    model = SentimentModel.named(name)
    fallback = projection.projected_name(model.embedding_model) if fast else None
    if not fast:  # each model reads its own embedding space; embed for it if the topic model uses another
        embed_stage(store_path, model.embedding_model, batch_size, precision)
    todo = sentiment_store.pending_sentiment(store, model.embedding_model, fallback)
    scored = _in_chunks(
        todo,
        lambda c: score_task.submit(np.vstack(c["vector"].to_numpy()), name),
        lambda c, proba: sentiment_store.save_message_sentiment(
            store, c["message_id"].tolist(), proba, model.name_
        ),
    )
    conversations = sentiment_store.refresh_conversation_sentiment(store)
    return {"scored": scored, "conversations_scored": conversations}


@task(name="insights", cache_policy=NO_CACHE)
def insights_task(
    store_path: str, timezone: str, run_id: str, spacy_models: dict[str, str] | None = None
) -> dict[str, int]:
    return refresh_insights(Store(store_path, timezone=timezone), run_id, spacy_models)


@flow(name="voc_pipeline", task_runner=ThreadPoolTaskRunner(max_workers=1))
def voc_pipeline(
    store_path: str,
    settings: dict[str, Any] | None = None,
    show_progress: bool = False,
    pulled: dict[str, dict] | None = None,
) -> dict:
    """Run every stage on what is in the store; returns the per-stage counts and durations.

    ``pulled``: what a scheduled run took from each source (see flows.scheduled), kept in the run record.
    """
    cfg = settings_from_parameters(settings)
    store = Store(store_path).init()
    run_id = runs.new_run_id()
    started = datetime.now(UTC)
    params = run_parameters(cfg)
    counts: dict[str, Any] = {"pull": pulled} if pulled is not None else {}
    fr_id = str(flow_run.get_id() or "")
    runs.record_run(store, run_id, status="running", started_at=started, flow_run_id=fr_id, parameters=params)
    logger = get_run_logger()

    def stage(name: str, fn, *args):
        t0 = time.perf_counter()
        result = fn(*args)
        counts[name] = {**result, "seconds": round(time.perf_counter() - t0, 2)}
        logger.info("%s: %s", name, counts[name])
        if show_progress:
            print(f"  {name:<10} {counts[name]}")
        return result

    def finish(status: str, error: str | None = None) -> None:
        runs.record_run(
            store,
            run_id,
            status=status,
            started_at=started,
            ended_at=datetime.now(UTC),
            flow_run_id=fr_id,
            counts=counts,
            parameters=params,
            error=error,
        )

    try:
        stage("prepare", prepare_task, store_path, cfg.languages, cfg.default_language)
        choice = stage("encoder", encoder_task, store_path, cfg.embedding_model, cfg.fast)
        encoder = params["embedding_model"] = choice["model"]  # the run record says which space
        params["refit"] = params["refit"] or choice["refit"]  # topics cut in another space are re-cut
        batch, precision = cfg.embedding_batch_size, cfg.embedding_precision
        if cfg.fast:
            stage(
                "embed", fast_embed_stage, store_path, encoder, batch, precision,
                cfg.fast_fit_sample, show_progress,
            )  # fmt: skip
        else:
            stage("embed", embed_stage, store_path, encoder, batch, precision, show_progress)
        stage("topics", topics_task, store_path, encoder, params, run_id)
        sentiment = cfg.run_sentiment_model
        stage("sentiment", sentiment_stage, store_path, sentiment, batch, precision, cfg.fast)
        stage("insights", insights_task, store_path, cfg.business_timezone, run_id, dict(cfg.spacy_models))
    except Exception as exc:
        finish("failed", "".join(traceback.format_exception_only(exc)).strip())
        raise
    finish("completed")
    return {"run_id": run_id, **counts}


def pipeline_flow(dask_address: str | None = None):
    """``voc_pipeline`` as configured: one worker thread (the model calls use every core already), or
    its chunks of embedding and scoring spread over a Dask cluster ("local" starts one in-process)."""
    if not dask_address:
        return voc_pipeline
    from prefect_dask import DaskTaskRunner

    if dask_address == "local":
        runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": False})
    else:
        runner = DaskTaskRunner(address=dask_address)
    return voc_pipeline.with_options(task_runner=runner)
