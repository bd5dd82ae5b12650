"""Themes keep their id and name across re-fits, as topics do.

A re-fit groups its topics into themes afresh and names each by c-TF-IDF, so without this a theme the
CCO read as "card / pin" one Monday could read "card / need" the next while holding the same topics,
and a dashboard link filtered on a theme's name (``?theme=...``) stopped matching. Each theme of the
re-fit is matched, one to one (Hungarian method), with the theme of before that shares most of its
messages: messages are counted by topic, at the topics' current sizes, since topic ids are already
kept across runs. A pair sharing more than half of the messages either holds (weighted Jaccard over
0.5) is one theme: it keeps its id and its name. Any other theme of the re-fit is new: it keeps its own
name, made distinct from the names kept, and takes an id no earlier theme had, unless its name is that
of an earlier theme now gone (a reader takes one name for one theme: it takes that theme's id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

SAME_THEME = 0.5  # weighted Jaccard over which a re-fit's theme is the theme of before


def _members(table: pd.DataFrame) -> pd.DataFrame:
    themed = table[(table["topic_id"] >= 0) & table["theme_id"].notna()]
    if "state" in themed:
        themed = themed[themed["state"] != "merged"]
    return themed[["topic_id", "theme_id", "theme_label"]].astype({"topic_id": int, "theme_id": int})


def carry_over(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """``current`` (the topics table after a re-fit) with the theme ids and names of ``previous``
    (the table before it) wherever a theme is the same; both need topic_id, theme_id, theme_label
    and size."""
    before, after = _members(previous), _members(current)
    if before.empty or after.empty:
        return current
    size = current.set_index("topic_id")["size"].fillna(0).clip(lower=0).astype(float)
    after["w"] = after["topic_id"].map(size).fillna(0.0)
    before["w"] = before["topic_id"].map(size).fillna(0.0)
    new_w, old_w = after.groupby("theme_id")["w"].sum(), before.groupby("theme_id")["w"].sum()
    both = after.merge(before[["topic_id", "theme_id"]], on="topic_id", suffixes=("", "_before"))
    shared = (
        both.pivot_table(index="theme_id", columns="theme_id_before", values="w", aggfunc="sum")
        .reindex(index=new_w.index, columns=old_w.index)
        .fillna(0.0)
        .to_numpy()
    )
    union = new_w.to_numpy()[:, None] + old_w.to_numpy()[None, :] - shared
    jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    rows, cols = linear_sum_assignment(-jaccard)
    new_ids, old_ids = new_w.index.tolist(), old_w.index.tolist()
    old_label = before.drop_duplicates("theme_id").set_index("theme_id")["theme_label"]
    new_label = after.drop_duplicates("theme_id").set_index("theme_id")["theme_label"]
    ids = {new_ids[i]: old_ids[j] for i, j in zip(rows, cols, strict=True) if jaccard[i, j] > SAME_THEME}
    names = {g: old_label[h] for g, h in ids.items()}
    spare = (i for i in range(len(old_ids) + len(new_ids) + 1) if i not in old_ids)
    vanished = {old_label[h]: h for h in old_ids if h not in ids.values()}
    for g in sorted(set(new_ids) - set(ids), key=lambda g: -new_w[g]):  # new themes, largest first
        if new_label[g] in vanished:  # named as a theme of before that is gone: read as that theme
            ids[g] = vanished.pop(new_label[g])
            names[g] = str(new_label[g])
            continue
        ids[g] = next(spare)
        name, n = str(new_label[g]), 2
        while name in names.values():
            name, n = f"{new_label[g]} ({n})", n + 1
        names[g] = name
    out = current.copy()
    has = out["topic_id"].ge(0) & out["theme_id"].notna()
    raw = out.loc[has, "theme_id"].astype(int)
    out.loc[has, "theme_id"] = raw.map(ids).to_numpy()
    out.loc[has, "theme_label"] = raw.map(names).to_numpy()
    return out
