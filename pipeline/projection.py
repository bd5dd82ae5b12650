"""Fast mode's two-tier vectors: the transformer for a sample, a projected static vector for the rest.

A large run cannot afford the sentence-transformer on every message (about 300 a second on two
cores), and a static encoder alone clusters clearly worse. So fast mode embeds a deterministic sample
of the texts with the transformer (the sample topics are fitted on), every other text with the static
encoder distilled from it (``models.static_encoder``), and maps those static vectors into the
transformer's space with a ridge regression fitted on the sample, where both are known. Nearest
centroids, drift, novelty and sentiment then read one space.

The projection is fitted once per store and kept in ``projections``: projected vectors are cached by
text like any embedding (model ``<model>~projected``), so they must not change under later runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.preprocessing import normalize

from pipeline.store import Store, execute

SUFFIX = "~projected"
ALPHA = 0.1  # ridge penalty: of 0.1, 1 and 10, the closest to the true vectors on four labelled sets
HOLD_OUT = 10  # every 10th sample text is held out to report how close the projection comes


def projected_name(model: str) -> str:
    """The embeddings-cache key of ``model``'s projected vectors."""
    return f"{model}{SUFFIX}"


def sample_rate(distinct_texts: int, fit_sample: int) -> float:
    """Share of texts the transformer embeds so that about ``fit_sample`` of them have exact vectors."""
    return 1.0 if distinct_texts <= fit_sample else fit_sample / distinct_texts


def in_sample(text_hashes: pd.Series | list[str], rate: float) -> np.ndarray:
    """Whether each text is in the transformer's sample: a fixed function of its hash, so a text keeps
    its place in or out of the sample across runs and machines (a lower rate later only adds none)."""
    cut = rate * 16**8
    return np.fromiter((int(h[:8], 16) < cut for h in text_hashes), dtype=bool, count=len(text_hashes))


@dataclass(frozen=True)
class Projection:
    """``apply(static) ≈ transformer``: a linear map with bias between two unit-vector spaces."""

    weights: np.ndarray  # (static_dim, dim)
    bias: np.ndarray  # (dim,)
    fitted_on: int
    held_out_cosine: float

    def apply(self, static: np.ndarray) -> np.ndarray:
        out = normalize(np.asarray(static, dtype=np.float32)) @ self.weights + self.bias
        return normalize(out).astype(np.float32)


def fit(static: np.ndarray, exact: np.ndarray) -> Projection:
    """Ridge regression from static to exact vectors; the mean cosine on held-out rows says how close."""
    S = normalize(np.asarray(static, dtype=np.float32))
    X = normalize(np.asarray(exact, dtype=np.float32))
    held = np.arange(len(S)) % HOLD_OUT == 0
    cosine = float("nan")
    if (~held).sum() > S.shape[1] and held.any():
        probe = Ridge(alpha=ALPHA).fit(S[~held], X[~held])
        cosine = float(np.einsum("ij,ij->i", normalize(probe.predict(S[held])), X[held]).mean())
    ridge = Ridge(alpha=ALPHA).fit(S, X)
    return Projection(ridge.coef_.T.astype(np.float32), ridge.intercept_.astype(np.float32), len(S), cosine)


def save(store: Store, model: str, static_model: str, projection: Projection) -> None:
    frame = pd.DataFrame(
        {
            "model": [model],
            "static_model": [static_model],
            "weights": [np.vstack([projection.weights, projection.bias]).ravel().tolist()],
            "static_dim": [projection.weights.shape[0]],
            "dim": [projection.weights.shape[1]],
            "fitted_on": [projection.fitted_on],
            "held_out_cosine": [projection.held_out_cosine],
            "created_at": [datetime.now(UTC)],
        }
    )
    store.upsert("projections", frame)


def load(store: Store, model: str) -> Projection | None:
    with store.connect(read_only=True) as con:
        rows = execute(
            con,
            "SELECT weights, static_dim, dim, fitted_on, held_out_cosine FROM projections WHERE model = ?",
            [model],
        )
    if not rows:
        return None
    weights, static_dim, dim, fitted_on, cosine = rows[0]
    full = np.asarray(weights, dtype=np.float32).reshape(static_dim + 1, dim)
    return Projection(
        full[:-1], full[-1], int(fitted_on), float(cosine) if cosine is not None else float("nan")
    )
