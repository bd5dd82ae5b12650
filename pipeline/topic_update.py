"""One run's topic step: assign new messages to the known topics, or re-fit when drift says so.

Either way topic ids keep their meaning: a re-fit is matched to the stored topics by shared members
(``pipeline.topic_identity``), messages keep the topic they had unless a recorded split or merge moves
them, every identity change lands in ``topic_lineage``, and the people's decisions in
``topic_overrides`` are applied again at the end (``pipeline.overrides``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import normalize

from models.topic_model import TopicModel, encoder_bar, nearest_topic, repeated
from pipeline import (
    courtesy,
    drift,
    embeddings,
    endings,
    local_shifts,
    novelty,
    overrides,
    theme_identity,
    topic_counts,
    weekly,
)
from pipeline.store import MESSAGE_WEEK, Store, execute
from pipeline.topic_identity import (
    MAX_CHURN,
    OUTLIER,
    UNASSIGNED,
    Matching,
    match_clusters,
    resolve_assignments,
)

REFERENCE_SAMPLE = 50_000  # earlier messages the "seen before?" test and the drift baseline read, at most
DORMANT_AFTER_DAYS = 14  # no message for two weeks before the newest one: the topic has gone quiet
FLOOR_QUANTILE = 0.10

TOPIC_COLUMNS = [
    "topic_id", "label", "keywords", "size", "representative_ids", "centroid", "x", "y", "theme_id",
    "theme_label", "run_id", "updated_at", "auto_label", "label_source", "state", "merged_into",
    "fit_similarity", "created_run_id", "tracked_from",
]  # fmt: skip


def _stored(store: Store) -> tuple[pd.DataFrame, int, int]:
    """Stored topics, the highest id ever used and the size of the last fit."""
    with store.connect(read_only=True) as con:
        topics = con.execute("SELECT * FROM topics WHERE topic_id >= 0 ORDER BY topic_id").df()
        highest = execute(
            con,
            "SELECT max(CAST(json_extract(counts, '$.topics.max_topic_id') AS INTEGER)) FROM runs "
            "WHERE status = 'completed'",
        )[0][0]
        fitted = execute(
            con, "SELECT messages FROM topic_lineage WHERE event = 'refit' ORDER BY happened_at DESC LIMIT 1"
        )
    highest = max([-1, highest if highest is not None else -1, *topics["topic_id"].tolist()])
    return topics, int(highest), int(fitted[0][0]) if fitted else 0


def _at_most(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``rows``, or a fixed sorted sample of ``n`` of them where there are more."""
    if len(rows) <= n:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))


def _assigned(messages: pd.DataFrame, topics: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"message_id": messages["message_id"].to_numpy(), "topic_id": topics.astype(int)})


def _texts(store: Store, message_ids: pd.Series) -> list[str]:
    """The texts of these messages, in this order (read only where a fit describes topics)."""
    wanted = pd.DataFrame({"message_id": message_ids.to_numpy(), "pos": np.arange(len(message_ids))})
    with store.connect(read_only=True) as con:
        con.register("wanted", wanted)
        texts = con.execute(
            "SELECT m.text FROM wanted w JOIN messages m USING (message_id) ORDER BY w.pos"
        ).fetchnumpy()["text"]
    if len(texts) != len(wanted):
        raise RuntimeError("messages changed while topics were being fitted; run again")
    return [str(t) for t in texts]


def topic_geometry(X: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Per topic with members: size, centroid, and the 10th percentile of members' similarity to it."""
    rows = []
    for t in np.unique(labels[labels >= 0]):
        members = X[labels == t]
        centroid = normalize(members.mean(axis=0, keepdims=True))[0]
        rows.append(
            {
                "topic_id": int(t),
                "size": len(members),
                "centroid": centroid.astype(np.float32),
                "fit_similarity": float(np.quantile(members @ centroid, FLOOR_QUANTILE)),
            }
        )
    return pd.DataFrame(rows, columns=["topic_id", "size", "centroid", "fit_similarity"])


def _expected_unexplained(X: np.ndarray, labels: np.ndarray, geometry: pd.DataFrame, seed: int) -> float:
    """The known messages' own unexplained rate (outliers + members under their topic's floor).

    Estimated on a fixed sample of at most ``REFERENCE_SAMPLE`` of them: a rate, not a census
    (standard error under 0.2 points), and a pass over a million vectors saved every weekly run."""
    known = np.flatnonzero(labels != UNASSIGNED)
    if len(known) == 0:
        return 0.0
    known = _at_most(known, REFERENCE_SAMPLE, seed)
    geo = geometry.set_index("topic_id")
    lab = labels[known]
    inside = lab >= 0
    sims = np.zeros(len(lab))
    floors = np.zeros(len(lab))
    if inside.any():
        cents = np.vstack(geo.loc[lab[inside], "centroid"].to_numpy())
        sims[inside] = np.einsum("ij,ij->i", X[known[inside]], cents)
        floors[inside] = geo.loc[lab[inside], "fit_similarity"].to_numpy()
    return float(drift.unexplained(lab, sims, floors).mean())


def _event(run_id: str, event: str, topic: int | None, related: int | None, n: int, detail: str) -> dict:
    return {
        "event_id": f"{run_id}:{event}:{topic}",
        "run_id": run_id,
        "event": event,
        "topic_id": topic,
        "related_topic_id": related,
        "messages": int(n),
        "detail": detail,
        "happened_at": datetime.now(UTC),
    }


def update_topics(
    store: Store,
    model_name: str,
    topic_settings: dict[str, Any],
    spacy_models: dict[str, str],
    run_id: str,
    refit: bool = False,
    fallback: str | None = None,
) -> dict[str, Any]:
    """Assign or re-fit, keep ids, record lineage, apply overrides; returns the step's counts.

    ``fallback``: fast mode's projected vectors, for messages outside the transformer's sample; a
    re-fit then clusters the sample alone and places the others by their nearest centroid."""
    messages, X = embeddings.customer_messages_with_vectors(store, model_name, fallback)
    if messages.empty:
        return {"mode": "none", "topics": 0, "customer_messages": 0, "outlier_share": 0.0}
    X = normalize(np.asarray(X, dtype=np.float32), copy=False)  # in place: X is 1.7 GB at 1.1M messages
    exact = messages.pop("exact").to_numpy(dtype=bool) if "exact" in messages else np.ones(len(X), bool)
    previous, highest, fitted = _stored(store)
    old = messages.pop("topic_id").fillna(UNASSIGNED).astype(int).to_numpy()
    old_prob = messages.pop("probability").fillna(0.0).to_numpy(dtype=float)
    new = old == UNASSIGNED
    model = TopicModel(**topic_settings, spacy_models=spacy_models)
    model.reassign_threshold = encoder_bar(X, model.reassign_threshold, model.seed)  # the encoder's scale
    min_size = model.params_for(len(X)).min_cluster_size
    live = previous[previous["state"].fillna("active") != "merged"] if len(previous) else previous
    geometry = topic_geometry(X, old)
    events: list[dict] = []

    report = None
    if not live.empty:  # where the new messages fall among the known topics (both modes use it)
        geo = _live_geometry(live, geometry)
        # a new message joins its nearest topic when it is as similar as the bar, or as that topic's
        # own members were when it was fitted (``fit_similarity``), whichever is lower: a fit gives its
        # clusters' members their topic however loose the topic is (MiniLM on short requests: a tenth of
        # their members under 0.37-0.73), and a fixed bar alone left a third of MASSIVE-en's later
        # messages outliers against a twentieth of the first week's
        bar = np.minimum(model.reassign_threshold, geo["fit_similarity"].fillna(model.reassign_threshold))
        labels, sims, nearest = nearest_topic(
            X[new], geo["topic_id"].to_numpy(), np.vstack(geo["centroid"]), bar.to_numpy()
        )
    if live.empty:
        mode, reason = "refit", "no topics yet"
    elif refit:
        mode, reason = "refit", "requested"
    else:
        floors = geo["fit_similarity"].to_numpy()[nearest] if len(nearest) else np.zeros(0)
        lost = drift.unexplained(labels, sims, floors)
        report = drift.drift_report(
            lost,
            _expected_unexplained(X, old, geometry, model.seed),
            fitted,
            max(len(X) - fitted, 0),
            min_size,
        )
        mode, reason = ("refit", report.reason) if report.refit else ("assign", report.reason)

    matching = Matching()
    aside: list[int] | None = None  # closing and courtesy topics, read where themes are given
    capped = False  # whether the re-fit's clusters were capped (models.topic_model: max_cluster_share)
    if mode == "refit":
        texts, languages = _texts(store, messages["message_id"]), messages["language"].fillna("xx").tolist()
        sample = None if exact.all() else np.flatnonzero(exact)  # fast mode: fit on the exact vectors
        tm = model.fit(X, texts, languages, sample=sample, groups=messages["conversation_id"].to_numpy())
        capped = tm.capped_
        matching = match_clusters(
            old, tm.labels_, tm.topic_ids_, tm.centroids_, live, highest, tm.params_.min_cluster_size,
            curated=overrides.merge_targets(store),
        )  # fmt: skip
        to_nearest = np.full(len(X), OUTLIER)
        sim_nearest = np.zeros(len(X))
        if not live.empty:
            to_nearest[new], sim_nearest[new] = labels, sims
        else:  # first fit: every message takes its cluster's topic
            to_nearest = np.asarray([matching.mapping.get(int(f), OUTLIER) for f in tm.labels_], dtype=int)
        final = resolve_assignments(old, tm.labels_, matching, to_nearest)
        # themes group requests apart from the turns customers close with or answer the agent with
        aside = courtesy.read_set_aside(store, _assigned(messages, final), spacy_models)
        tm.group_themes(c for c, t in matching.mapping.items() if t in aside)
        fresh = matching.created + [new for _, new, _ in matching.splits]
        prob = np.where(
            final == old, old_prob, np.where(np.isin(final, fresh), tm.probabilities_, sim_nearest)
        )
        fit_rows = _fit_rows(tm, matching.mapping, messages["message_id"].to_numpy(), matching.folded)
        events.append(_event(run_id, "refit", None, None, len(X), reason))
        for topic, new_topic, cluster in matching.splits:
            moved = int(((old == topic) & (tm.labels_ == cluster)).sum())
            events.append(_event(run_id, "split", new_topic, topic, moved, f"split off from topic {topic}"))
        for topic, cluster in matching.split_suggestions:
            part = int(((old == topic) & (tm.labels_ == cluster)).sum())
            events.append(
                _event(
                    run_id,
                    "split_suggested",
                    topic,
                    None,
                    part,
                    f"{part} of its messages form a cluster of their own (over this run's churn budget)",
                )  # fmt: skip
            )
        for topic, into in matching.merges:
            events.append(
                _event(
                    run_id,
                    "merge_suggested",
                    topic,
                    into,
                    int((old == topic).sum()),
                    f"the re-fit found it together with topic {into}: `voc topics merge {topic} {into}`",
                )  # fmt: skip
            )
        for topic in matching.created:
            events.append(_event(run_id, "created", topic, None, int((final == topic).sum()), "new topic"))
    else:
        final = old.copy()
        final[new] = labels
        prob = old_prob.copy()
        prob[new] = np.where(labels >= 0, sims, 0.0)
        fit_rows = pd.DataFrame()

    times = pd.to_datetime(messages.pop("at"), utc=True).dt.tz_convert(None).to_numpy()  # UTC, naive
    earlier_weeks = max(pd.Series(times[~new]).dt.to_period("W").nunique(), 1) if (~new).any() else 1
    kinds = {new_topic: "recut" for _, new_topic, _ in matching.splits}
    history = pd.DataFrame(columns=["message_id", "topic_id"])
    if mode == "refit":
        kinds.update(_refit_kinds(tm.labels_, matching, new, earlier_weeks))
        history = _fit_history(tm.labels_, matching, kinds, new, messages["message_id"].to_numpy())
    # a re-fit rescans every week: the same messages give the same shifts, and a store an older voc
    # wrote (no shifts) gets them for its past weeks with `voc run --refit`; shifts do not depend on
    # the topics, and a rise no topic holds can make one (``_new_themes``)
    rescan = np.ones(len(new), dtype=bool) if mode == "refit" else new
    ids = messages["message_id"].to_numpy()
    scanned, shifts = week_shifts(store, ids, X, rescan, model.seed, run_id)
    candidates: list[dict] = []
    if not live.empty:  # a first fit has nothing to be new against
        top = max([highest, *matching.mapping.values()])
        novel_rows, novel_events, novel_kinds, candidates = _new_themes(
            store, model, messages, X, new, old, final, prob, earlier_weeks, top, run_id, exact, shifts
        )
        if len(novel_rows):  # themes are the whole store's: a new topic joins the nearest (``_place``)
            novel_rows = novel_rows.assign(theme_id=None, theme_label=None)
            fit_rows = pd.concat([fit_rows, novel_rows], ignore_index=True)
            # the week's own new themes may take all of a topic the re-fit made of new messages alone,
            # whole or cut finer (two new requests the re-fit merged), leaving it empty: it never
            # existed for anyone, so no lineage or count says it was created (its id stays unused)
            emptied = {t for t in matching.created if not (final == t).any()}
            events = [e for e in events if not (e["event"] == "created" and e["topic_id"] in emptied)]
            matching.created = [t for t in matching.created if t not in emptied]
            matching.created += [int(t) for t in novel_rows["topic_id"]]
            events += novel_events
            kinds.update(novel_kinds)
    if aside is None and len(fit_rows):  # new topics join a theme: of requests, not of closing turns
        aside = courtesy.set_aside(store, endings.closing_topics(store))
    table, state_events = _topic_table(
        previous, fit_rows, X, final, times, run_id, kinds, mode == "refit", set(aside or ())
    )
    events += state_events
    changed = (final != old) | new
    rows = pd.DataFrame(
        {
            "message_id": messages["message_id"].to_numpy()[changed],
            "topic_id": final[changed].astype(int),
            "probability": prob[changed].astype(float),
            "run_id": run_id,
        }
    )
    counted = topic_counts.nearest_live(X, final, *topic_counts.live_centroids(table))
    with store.connect() as con:
        execute(con, "BEGIN TRANSACTION")
        execute(con, "DELETE FROM topics")
        store.upsert("topics", table[TOPIC_COLUMNS], con=con)
        store.upsert("assignments", rows, con=con)
        save_week_shifts(store, con, scanned, shifts)
        if events:
            store.upsert("topic_lineage", pd.DataFrame(events), con=con)
        _save_weekly_counts(store, con, "topic_history", history, run_id)
        execute(con, "DELETE FROM topic_counts")
        _save_weekly_counts(
            store,
            con,
            "topic_counts",
            pd.DataFrame({"message_id": ids, "topic_id": counted})[counted >= 0],
            run_id,
        )
        execute(con, "COMMIT")
    applied = overrides.apply_overrides(store, run_id)

    had = old >= 0
    kept = float((final[had] == old[had]).mean()) if had.any() else 1.0
    active = table[(table["topic_id"] >= 0) & (table["state"] == "active")]
    return {
        "mode": mode,
        "reason": reason,
        "drift": report.as_dict() if report else None,
        "topics": int(len(active)),
        "dormant": int((table["state"] == "dormant").sum()),
        "created": len(matching.created),
        "splits": len(matching.splits),
        "splits_suggested": len(matching.split_suggestions),
        "merges_suggested": len(matching.merges),
        "overrides_applied": applied,
        "new_messages": int(new.sum()),
        "ids_kept": round(kept, 4),
        "max_topic_id": int(max([highest, *table["topic_id"].tolist()])),
        "customer_messages": len(messages),
        "fitted_messages": len(X) if mode == "refit" else fitted,
        "exact_vectors": int(exact.sum()),
        "outlier_share": round(float((final == OUTLIER).mean()), 4),
        "weeks_scanned": len(scanned),
        "shifts": int(shifts[["week", "direction", "shift"]].drop_duplicates().shape[0]),
        "min_cluster_size": int(min_size),
        "fit_capped": bool(capped),
        "new_theme_candidates": candidates,
    }


def _refit_kinds(
    fit_labels: np.ndarray, matching: Matching, new: np.ndarray, earlier_weeks: int
) -> dict[int, str]:
    """Whether each topic a re-fit created is a new theme or one re-cut from known topics.

    Judged on the fit's own cluster, which saw every message: fewer than one earlier message a week
    in it (the status rule's "near-absent") means its quiet past is real, and it is new; otherwise
    those earlier messages keep their topics and its history starts now (``tracked_from``)."""
    kinds = {}
    for cluster, topic in matching.mapping.items():
        if topic in matching.created:
            earlier = int(((fit_labels == cluster) & ~new).sum())
            recut = earlier / max(earlier_weeks, 1) >= novelty.NEAR_ABSENT_PER_WEEK
            kinds[topic] = "recut" if recut else "novel"
    return kinds


def _fit_history(
    fit_labels: np.ndarray, matching: Matching, kinds: dict[int, str], new: np.ndarray, ids: np.ndarray
) -> pd.DataFrame:
    """The earlier members of each re-cut topic's cluster in this fit (message id, topic id).

    Those messages keep their topics, so the topic's own weeks before now are not its past; the
    fit's cluster saw every week in one clustering, so its weekly counts are (``topic_history``)."""
    frames = [
        pd.DataFrame({"message_id": ids[(fit_labels == cluster) & ~new], "topic_id": topic})
        for cluster, topic in matching.mapping.items()
        if kinds.get(topic) == "recut"  # created or split off by this fit, with a past
    ]
    empty = pd.DataFrame(columns=["message_id", "topic_id"])
    return pd.concat(frames, ignore_index=True) if frames else empty


def week_shifts(
    store: Store, ids: np.ndarray, X: np.ndarray, new: np.ndarray, seed: int, run_id: str
) -> tuple[list, pd.DataFrame]:
    """The weeks this run scans for local shifts (those of the ``new`` messages, and the weeks whose
    baseline holds them) and the shifts found there (``pipeline.local_shifts``), weeks cut in the store's time
    zone as the weekly statistics cut them, counted in conversations as they are. Earlier weeks keep
    what earlier runs found: their messages did not change, and a shift does not depend on the topics."""
    with store.connect(read_only=True) as con:
        con.register("_shift_ids", pd.DataFrame({"message_id": ids}))
        weeks = con.execute(
            f"SELECT i.message_id, {MESSAGE_WEEK} AS week, m.conversation_id "
            "FROM _shift_ids i JOIN messages m USING (message_id)"
        ).df()
        con.unregister("_shift_ids")
    weeks = weeks.set_index("message_id").reindex(ids)
    days = pd.to_datetime(weeks["week"]).to_numpy()
    ordinal = (days.astype("datetime64[D]").astype(np.int64) + 3) // 7  # Mondays, numbered
    present = set(np.unique(ordinal).tolist())
    touched = np.unique(ordinal[new]).tolist()
    scan = sorted({w + d for w in touched for d in range(local_shifts.BASELINE_WEEKS + 1)} & present)
    scan = [w for w in scan if w - local_shifts.BASELINE_WEEKS >= min(present)]  # a full baseline only
    conversations = weeks["conversation_id"].to_numpy()
    table = local_shifts.scan_weeks(X, ordinal, ids, scan, weekly.MIN_VOLUME, seed, conversations)
    as_date = {w: (np.datetime64(0, "D") + np.timedelta64(w * 7 - 3, "D")).astype(object) for w in scan}
    table["week"] = table["week"].map(as_date)
    table["run_id"] = run_id
    return [as_date[w] for w in scan], table


def save_week_shifts(store: Store, con: Any, scanned: list, shifts: pd.DataFrame) -> None:
    """Replace the shifts of the weeks scanned (found again from their messages, so a re-run of a week
    writes the same rows)."""
    if scanned:
        execute(con, f"DELETE FROM week_shifts WHERE week IN ({', '.join('?' * len(scanned))})", scanned)
        store.upsert("week_shifts", shifts, con=con)


def _save_weekly_counts(store: Store, con: Any, table: str, members: pd.DataFrame, run_id: str) -> None:
    """Weekly counts of ``members`` (message id, topic id) per topic into ``table`` (``topic_history``
    or ``topic_counts``): messages, and conversations (the count the status test compares), weeks cut
    as the weekly statistics cut them (the store's time zone)."""
    if members.empty:
        return
    con.register("_weekly_members", members)
    rows = con.execute(
        f"SELECT h.topic_id, {MESSAGE_WEEK} AS week, CAST(count(*) AS INTEGER) AS messages, "
        "CAST(count(DISTINCT m.conversation_id) AS INTEGER) AS conversations "
        "FROM _weekly_members h JOIN messages m USING (message_id) GROUP BY ALL"
    ).df()
    con.unregister("_weekly_members")
    rows["run_id"] = run_id
    store.upsert(table, rows, con=con)


def _live_geometry(live: pd.DataFrame, geometry: pd.DataFrame) -> pd.DataFrame:
    """Centroid and floor of every live topic: from its members, or as stored if it has none now."""
    geo = geometry[geometry["topic_id"].isin(live["topic_id"])]
    missing = live[~live["topic_id"].isin(geo["topic_id"]) & live["centroid"].notna()]
    if len(missing):
        extra = pd.DataFrame(
            {
                "topic_id": missing["topic_id"].astype(int),
                "size": 0,
                "centroid": [
                    normalize(np.asarray(c, dtype=np.float32)[None])[0] for c in missing["centroid"]
                ],
                "fit_similarity": missing["fit_similarity"].fillna(0.0).astype(float),
            }
        )
        geo = pd.concat([geo, extra], ignore_index=True)
    return geo.sort_values("topic_id").reset_index(drop=True)


def _new_themes(
    store: Store,
    model: TopicModel,
    messages: pd.DataFrame,
    X: np.ndarray,
    new: np.ndarray,
    old: np.ndarray,
    final: np.ndarray,
    prob: np.ndarray,
    earlier_weeks: int,
    highest: int,
    run_id: str,
    exact: np.ndarray,
    shifts: pd.DataFrame,
) -> tuple[pd.DataFrame, list[dict], dict[int, str], list[dict]]:
    """Cluster the new messages alone; clusters no topic covers become topics (updates ``final``), and
    so do groups of newcomers the clustering mixed with known requests (``novelty.newcomer_groups``)
    and local rises (``shifts``) made of new messages in no topic (``novelty.uncovered_rises``).

    In fast mode (``exact`` marks the transformer's sample) only the new messages in the sample are
    clustered and compared with the earlier ones in it: the sample is what topics are fitted on, and
    it keeps the weekly run's cost at the sample's scale. The other new messages then join a new
    theme where they are nearer it than any known topic, as earlier messages do.

    A new theme (near-absent before) is created and flagged emerging by the weekly statistics. A
    theme that was there but hidden inside broader topics splits off with the earlier messages that
    are closer to it than to their own topic, within the run's churn budget, so its history is true.
    """
    idx = np.flatnonzero(new & exact)
    earlier_idx = np.flatnonzero(~new)
    group = novelty.min_group(len(idx))
    conversation = pd.factorize(messages["conversation_id"])[0]  # codes: what is counted, once

    def one_voice(members: np.ndarray) -> bool:
        """Whether a candidate is a few customers repeating themselves (``repeated``): a theme is what
        several customers say, and one who writes the same complaint eight times makes a cluster of
        eight messages, unlike anything before, that every test below would pass."""
        return bool(repeated(len(np.unique(conversation[members])), len(members), group))

    too_few = f"fewer than {group} conversations"

    if len(idx) < 2 * group or (~new).sum() == 0:
        return pd.DataFrame(), [], {}, []
    params = {
        k: getattr(model, k) for k in ("n_neighbors", "n_components", "n_keywords", "n_representatives")
    }
    week = TopicModel(
        **params,
        min_cluster_size=group,
        seed=model.seed,
        spacy_models=model.spacy_models,
        reassign_threshold=model.reassign_threshold,
        # uncapped: its clusters are candidates, each judged against the known topics, not topics; a
        # big one is a blob of the known (cut, it would make more candidates), and the cap was measured
        # on the topic fits only (on MASSIVE-fr it would act on some weeks' new messages)
        max_cluster_share=None,
    ).fit_clusters(X[idx])  # described (labels, keywords: spaCy) only if a new theme is found below
    known = topic_geometry(X, np.where(new, OUTLIER, final))
    known_c = np.vstack(known["centroid"]) if len(known) else np.zeros((0, X.shape[1]))
    bar = novelty.distinct_bar(known_c)  # how far apart this encoder puts the known topics
    clusters = [idx[week.labels_ == t] for t in week.topic_ids_]
    # one blocked pass over the earlier messages: their nearest known topic and their similarity to
    # every candidate (no copy of the earlier messages, and not one pass per candidate)
    cand_c = normalize(np.vstack([X[m].mean(axis=0) for m in clusters])) if clusters else known_c[:0]
    best = np.empty(len(earlier_idx))
    to_cand = np.empty((len(earlier_idx), len(clusters)), dtype=np.float32)
    for start in range(0, len(earlier_idx), 65_536):
        block = X[earlier_idx[start : start + 65_536]]
        best[start : start + 65_536] = novelty.earlier_best(block, known_c)
        to_cand[start : start + 65_536] = block @ cand_c.T
    budget = MAX_CHURN * float((old >= 0).sum()) - float(((final != old) & (old >= 0)).sum())
    mapping, events, fresh, kinds, log = {}, [], highest + 1, {}, []
    # each new message's most similar earlier message: recurring themes have close ones, new ones not
    # (against a fixed sample of at most REFERENCE_SAMPLE earlier messages, in blocks: bounded memory)
    nn_earlier = np.zeros(len(X))
    reference = _at_most(np.flatnonzero(~new & exact), REFERENCE_SAMPLE, model.seed)
    reference_t = X[reference].T
    for start in range(0, len(idx), 512):
        chunk = idx[start : start + 512]
        nn_earlier[chunk] = (X[chunk] @ reference_t).max(axis=1)
    new_to_cand = X[idx] @ cand_c.T  # this run's (sampled) new messages against each candidate
    earlier_exact = exact[earlier_idx]  # in fast mode, the earlier messages of the same sample
    voices = novelty.Voices.of(conversation[idx], conversation[earlier_idx[earlier_exact]])
    for j, (t, members) in enumerate(zip(week.topic_ids_, clusters, strict=True)):
        held_out = novelty.held_out_similarity(X[members])  # as any other message: not in the centroid
        new_sim = new_to_cand[:, j].copy()
        new_sim[week.labels_ == t] = held_out
        area = novelty.region(held_out, new_sim, to_cand[earlier_exact, j], earlier_weeks, voices)
        verdict = novelty.check(
            X[members], known_c, to_cand[:, j], best, earlier_weeks, model.reassign_threshold,
            nn_earlier[members], nn_earlier[np.setdiff1d(idx, members)], len(week.topic_ids_), bar,
            float((final[members] < 0).mean()), area,
        )  # fmt: skip
        joiners = earlier_idx[verdict.joins]
        joiners = joiners[final[joiners] >= 0]  # outliers joining cost nothing
        if one_voice(members):
            log.append(_candidate(members, verdict, too_few))
            continue
        if verdict.novel:
            kinds[fresh] = "novel"
            detail = (
                f"new theme in this run's messages (nearest topic {verdict.nearest_topic_similarity:.2f}, "
                f"{verdict.earlier_per_week:.1f} earlier messages a week would have joined it; "
                f"{verdict.region.now} conversations like them now against "
                f"{verdict.region.before_per_week:.1f} a week before, p={verdict.region.p_up:.1g})"
                if verdict.distinct
                else f"new theme in this run's messages, most of them in no topic ({verdict.region.now} "
                f"conversations like them now against {verdict.region.before_per_week:.1f} a week before, "
                f"p={verdict.region.p_up:.1g}; nearest topic {verdict.nearest_topic_similarity:.2f})"
            )
            event = _event(run_id, "created", fresh, None, len(members), detail)
        elif verdict.distinct and len(joiners) <= budget:
            sources = pd.Series(final[joiners]).value_counts()
            budget -= len(joiners)
            kinds[fresh] = "recut"
            named = ", ".join(map(str, sources.index[:3]))
            strays = int((final[earlier_idx[verdict.joins]] < 0).sum())  # earlier outliers it takes in
            detail = (
                f"split off from topic(s) {named} with {len(joiners)} earlier messages"
                if len(joiners)
                else f"a theme seen before among messages no topic held ({strays} earlier ones join it)"
            )
            event = _event(
                run_id, "split", fresh, int(sources.index[0]) if len(sources) else None, len(joiners), detail
            )
        else:
            log.append(_candidate(members, verdict, "kept in known topics"))
            continue
        log.append(_candidate(members, verdict, kinds[fresh]))
        mapping[int(t)] = fresh
        final[members] = fresh
        prob[members] = week.probabilities_[week.labels_ == t]
        # an uncovered new theme sits beside a known topic: of the earlier messages nearer it than their
        # topic, it takes only those in its region (that topic's border messages are not its past)
        own_past = to_cand[:, j] >= verdict.region.radius if verdict.novel and not verdict.distinct else True
        final[earlier_idx[verdict.joins & own_past]] = fresh
        events.append(event)
        known_c = np.vstack([known_c, cand_c[j]])
        best = np.maximum(best, to_cand[:, j])
        fresh += 1
    # new requests that the clustering of the week mixed with others: messages whose neighbours are new
    taken = np.isin(final[idx], list(mapping.values()))  # in a new theme found above
    next_label = int(week.topic_ids_.max()) + 1 if len(week.topic_ids_) else 0

    def adopt(rows: np.ndarray, centroid: np.ndarray, detail: str) -> None:
        """Make ``rows`` of the new messages (``idx``) a new topic: one more cluster of the week's,
        described with the others."""
        nonlocal known_c, next_label, fresh
        kinds[fresh] = "novel"
        events.append(_event(run_id, "created", fresh, None, len(rows), detail))
        week.labels_[rows] = next_label
        week.probabilities_[rows] = 1.0
        week.topic_ids_ = np.append(week.topic_ids_, next_label)
        week.centroids_ = np.vstack([week.centroids_, centroid.astype(week.centroids_.dtype)])
        mapping[next_label] = fresh
        final[idx[rows]] = fresh
        prob[idx[rows]] = 1.0
        taken[rows] = True
        known_c = np.vstack([known_c, centroid])
        next_label += 1
        fresh += 1

    def measure(members: np.ndarray) -> tuple[float, np.ndarray, float]:
        """A group's "seen before" p (its nearest earlier paraphrases against the run's other new
        messages'), its centroid, and its similarity to the nearest topic known so far."""
        p_seen = novelty.unseen_p(nn_earlier[members], nn_earlier[np.setdiff1d(idx, members)])
        centroid = normalize(X[members].mean(axis=0, keepdims=True))[0]
        return p_seen, centroid, float((known_c @ centroid).max()) if len(known_c) else 0.0

    for rows in novelty.newcomer_groups(X[idx], X[reference], len(idx), group):
        if taken[rows].mean() > 0.5:  # a new theme the clustering found already
            continue
        rows = rows[~taken[rows]]
        members = idx[rows]
        p_seen, centroid, nearest = measure(members)
        few = one_voice(members)
        novel = p_seen < novelty.NEWCOMER_SEEN and len(members) >= group and not few
        decision = "novel" if novel else too_few if few else "kept in known topics"
        log.append(_newcomers(members, p_seen, nearest, decision))
        if novel:
            adopt(
                rows, centroid,
                f"new theme: {len(members)} of this run's messages whose nearest neighbours are this run's, "
                f"none like them before (p={p_seen:.1g}; nearest topic {nearest:.2f})",
            )  # fmt: skip
    # a new request the clustering scattered and the topics left out: its rise is already proven by the
    # local shifts (permutation-calibrated); it is new when no earlier message is a close paraphrase
    ids = messages["message_id"].to_numpy()
    eligible = np.zeros(len(X), dtype=bool)
    eligible[idx] = True
    for members, p_rise in novelty.uncovered_rises(shifts, ids, eligible, final, group):
        members = members[final[members] < 0]  # not taken by a rise kept before it
        if len(members) < group:
            continue
        p_seen, centroid, nearest = measure(members)
        few = one_voice(members)
        novel = p_seen < novelty.ALPHA and not few
        decision = "novel" if novel else too_few if few else "kept in no topic"
        log.append(_rise(members, p_rise, p_seen, nearest, decision))
        if novel:
            adopt(
                np.searchsorted(idx, members), centroid,
                f"new theme: {len(members)} of this run's messages in no topic, a local rise "
                f"(p={p_rise:.1g}) with no close earlier paraphrase (p={p_seen:.1g}; "
                f"nearest topic {nearest:.2f})",
            )  # fmt: skip
    if not mapping:
        return pd.DataFrame(), [], {}, log
    _join_new_themes(
        X,
        np.flatnonzero(new & (~exact | (final < 0))),
        known_c,
        len(known),
        list(mapping.values()),
        final,
        prob,
        model.reassign_threshold,
    )
    skip = [int(t) for t in week.topic_ids_ if int(t) not in mapping]
    week.describe(
        X[idx],
        _texts(store, messages["message_id"].iloc[idx]),
        messages["language"].iloc[idx].fillna("xx").tolist(),
    )
    return _fit_rows(week, mapping, messages["message_id"].to_numpy()[idx], skip), events, kinds, log


def _join_new_themes(
    X: np.ndarray,
    rows: np.ndarray,
    centroids: np.ndarray,
    n_known: int,
    created: list[int],
    final: np.ndarray,
    prob: np.ndarray,
    threshold: float,
) -> None:
    """Move ``rows`` (new messages left out of the clustering, or left in no topic) to the new theme
    they are nearest, where it is nearer than every known topic and near enough at all (updates
    ``final``/``prob``): the rule every new message joins a known topic by, now that there are more.

    Near enough is the bar a known topic sets for joining it: ``threshold``, or as similar as the
    theme's own members are to it (their ``FLOOR_QUANTILE``), whichever is lower. With the fixed bar
    alone, a loose new theme took its members from the sample and left their like outside it
    outliers, so fast mode counted it smaller than the sample said it was; and a theme made of a
    local rise's messages left the run's other messages like them outliers."""
    if len(rows) == 0:
        return
    fresh_c = centroids[n_known:]
    bars = np.full(len(created), threshold)
    for j, topic in enumerate(created):
        members = np.flatnonzero(final == topic)
        if len(members):
            bars[j] = min(threshold, float(np.quantile(X[members] @ fresh_c[j], FLOOR_QUANTILE)))
    for start in range(0, len(rows), 65_536):  # blocks: bounded memory on a million-message week
        block = rows[start : start + 65_536]
        S = X[block] @ centroids.T
        known_best = S[:, :n_known].max(axis=1) if n_known else np.full(len(block), -1.0)
        fresh = S[:, n_known:]
        pick = fresh.argmax(axis=1)
        sim = fresh[np.arange(len(block)), pick]
        moving = novelty.joins(sim, known_best, bars[pick])
        final[block[moving]] = np.asarray(created)[pick[moving]]
        prob[block[moving]] = sim[moving]


def _candidate(members: np.ndarray, verdict: novelty.NoveltyCheck, decision: str) -> dict:
    """What the run saw of one cluster of its new messages, for the run record."""
    return {
        "messages": len(members),
        "found_by": "clustering",
        "nearest_topic_similarity": round(verdict.nearest_topic_similarity, 3),
        "earlier_per_week": round(verdict.earlier_per_week, 2),
        "p_seen_before": float(f"{verdict.p_seen:.3g}"),
        "uncovered": verdict.uncovered,
        "region_conversations": verdict.region.now,
        "region_earlier_per_week": round(verdict.region.before_per_week, 2),
        "p_region": float(f"{verdict.region.p_up:.3g}"),
        "decision": decision,
    }


def _newcomers(members: np.ndarray, p_seen: float, nearest: float, decision: str) -> dict:
    """What the run saw of one group of newcomers (``novelty.newcomer_groups``), for the run record."""
    return {
        "messages": len(members),
        "found_by": "new neighbours",
        "nearest_topic_similarity": round(nearest, 3),
        "p_seen_before": float(f"{p_seen:.3g}"),
        "decision": decision,
    }


def _rise(members: np.ndarray, p_rise: float, p_seen: float, nearest: float, decision: str) -> dict:
    """What the run saw of one local rise made of messages in no topic, for the run record."""
    return {
        "messages": len(members),
        "found_by": "local rise",
        "nearest_topic_similarity": round(nearest, 3),
        "p_rise": float(f"{p_rise:.3g}"),
        "p_seen_before": float(f"{p_seen:.3g}"),
        "decision": decision,
    }


def _fit_rows(tm: TopicModel, mapping: dict[int, int], ids: np.ndarray, skip: list[int]) -> pd.DataFrame:
    """The fit's topic descriptions under their stable ids (outlier row and ``skip`` dropped)."""
    rows = tm.topics_[(tm.topics_["topic_id"] != OUTLIER) & ~tm.topics_["topic_id"].isin(skip)]
    rows = rows.copy()
    rows["topic_id"] = rows["topic_id"].map(mapping).astype(int)
    rows["representative_ids"] = rows.pop("representative_idx").map(lambda idx: [str(ids[i]) for i in idx])
    rows["auto_label"] = rows.pop("label")
    return rows.drop(columns=["centroid", "size", "x", "y"])


def _topic_table(
    previous: pd.DataFrame,
    fit_rows: pd.DataFrame,
    X: np.ndarray,
    final: np.ndarray,
    times: np.ndarray,
    run_id: str,
    kinds: dict[int, str],
    refit: bool,
    aside: set[int],
) -> tuple[pd.DataFrame, list[dict]]:
    """Every topic ever found, described by this fit where it has one, measured on its members now.
    A topic the fit did not describe joins the theme of its nearest topic of the same kind (``aside``:
    closing and courtesy topics; the others are requests).

    A topic created after the first run is a new theme when its quiet past is real: ``kinds`` holds
    that verdict for every topic this run created ("novel"; made by ``pipeline.novelty`` for the new
    messages' own clusters, by ``_refit_kinds`` for a re-fit's). Otherwise ("recut") its past was
    re-cut from other topics and only weeks from now on are ``tracked_from`` (the weekly status
    tests ignore the weeks before).
    """
    now = datetime.now(UTC)
    prev = previous.set_index("topic_id") if len(previous) else pd.DataFrame()
    fit = fit_rows.set_index("topic_id") if len(fit_rows) else pd.DataFrame()
    geometry = topic_geometry(X, final).set_index("topic_id")
    ids = sorted(set(prev.index) | set(fit.index) | set(geometry.index))
    times = pd.to_datetime(pd.Series(times), utc=True)
    newest = times.max()
    last_seen = times.groupby(final).max()
    rows, events = [], []
    for t in ids:
        if t not in prev.index and t not in geometry.index:
            continue  # described by this fit but left without messages (e.g. a new theme took them)
        base = prev.loc[t].to_dict() if t in prev.index else {}
        row = {c: base.get(c) for c in TOPIC_COLUMNS if c != "topic_id"}
        row["topic_id"] = int(t)
        if t in fit.index:
            row.update({k: v for k, v in fit.loc[t].to_dict().items() if k in TOPIC_COLUMNS})
            row["run_id"] = run_id
            row["updated_at"] = now
        elif refit:  # a re-fit groups themes afresh: topics it did not describe join the nearest one
            row["theme_id"], row["theme_label"] = None, None
        if not row.get("created_run_id"):
            row["created_run_id"] = run_id
            if len(prev) and kinds.get(t) == "recut":
                row["tracked_from"] = newest
        if t in geometry.index:
            row["size"] = int(geometry.loc[t, "size"])
            row["centroid"] = [float(v) for v in geometry.loc[t, "centroid"]]
            row["fit_similarity"] = float(geometry.loc[t, "fit_similarity"])
        else:
            row["size"] = 0
        was = base.get("state") or "active"
        if was == "merged":
            row["state"] = "merged"
        else:
            quiet = t not in last_seen.index or (newest - last_seen[t]).days >= DORMANT_AFTER_DAYS
            row["state"] = "dormant" if quiet else "active"
            if t in prev.index and was != row["state"]:
                events.append(_event(run_id, "dormant" if quiet else "revived", t, None, row["size"], ""))
        row["label"] = row.get("auto_label") or row.get("label") or f"topic {t}"
        row["label_source"] = "auto"
        row["keywords"] = list(row["keywords"]) if row.get("keywords") is not None else []
        row["representative_ids"] = (
            list(row["representative_ids"]) if row.get("representative_ids") is not None else []
        )
        rows.append(row)
    table = pd.DataFrame(rows, columns=TOPIC_COLUMNS)
    _place(table, aside)
    if refit and len(prev):
        table = theme_identity.carry_over(previous, table)
    outliers = {c: None for c in TOPIC_COLUMNS}
    outliers.update(
        topic_id=OUTLIER, label="Unassigned (outliers)", auto_label="Unassigned (outliers)",
        label_source="auto", keywords=[], representative_ids=[], size=int((final == OUTLIER).sum()),
        state="active", run_id=run_id, updated_at=now,
    )  # fmt: skip
    table = pd.concat([table, pd.DataFrame([outliers])], ignore_index=True)
    return table, events


def _unit_matrix(vectors: pd.Series) -> np.ndarray:
    return normalize(np.vstack([np.asarray(c, dtype=np.float32) for c in vectors]))


def _place(table: pd.DataFrame, aside: set[int]) -> None:
    """2-D map positions for every topic with a centroid, and a theme for topics the fit did not see:
    the nearest themed topic's of the same kind (``aside`` or not), or of any where none is."""
    has = table["centroid"].notna() & (table["state"] != "merged")
    if has.sum() >= 2:
        C = _unit_matrix(table.loc[has, "centroid"])
        xy = PCA(n_components=2, random_state=0).fit_transform(C)
        table.loc[has, "x"] = xy[:, 0]
        table.loc[has, "y"] = xy[:, 1]
        themed = table["theme_id"].notna() & has
        apart = table["topic_id"].isin(aside)
        for kind in (apart, ~apart):
            orphan = has & ~themed & kind
            among = themed & kind if (themed & kind).any() else themed
            if orphan.any() and among.any():
                T = _unit_matrix(table.loc[among, "centroid"])
                nearest = (_unit_matrix(table.loc[orphan, "centroid"]) @ T.T).argmax(axis=1)
                table.loc[orphan, "theme_id"] = table.loc[among, "theme_id"].to_numpy()[nearest]
                table.loc[orphan, "theme_label"] = table.loc[among, "theme_label"].to_numpy()[nearest]
