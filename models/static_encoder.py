"""A static (bag-of-token-vectors) encoder distilled from a sentence-transformer: fast mode's cheap pass.

``static:<model>`` names a model distilled from ``<model>`` by model2vec (through sentence-transformers'
``StaticEmbedding.from_distillation``): every vocabulary token is run through the transformer once,
the token vectors are reduced by PCA to 256 dimensions and Zipf-weighted, and a text's vector is the
mean of its tokens' vectors. It embeds tens of thousands of messages a second on two cores, against a
few hundred for the transformer, but alone it clusters customer messages clearly worse (0.08-0.12
lower NMI on the topic benchmark's sets), so fast mode never clusters with it: it only places
messages in the transformer's space through a projection fitted on a sample (``pipeline.projection``).

Built on first use from the local copy of the base model (no hub), deterministic, cached under
``$VOC_MODEL_CACHE`` like the multilingual encoder.
"""

from __future__ import annotations

import hashlib
import re
from importlib.metadata import version
from pathlib import Path

from models.multilingual_encoder import _built_once, cache_root, content_digest

PREFIX = "static:"
PCA_DIMS = 256


def is_static(name: str) -> bool:
    return name.startswith(PREFIX)


def static_name(base: str) -> str:
    """The static encoder distilled from ``base`` (a model name or path)."""
    return f"{PREFIX}{base}"


def model_path(name: str, resolve) -> str:
    """Local sentence-transformers directory of ``static:<base>``, distilled on first use.

    ``resolve`` maps the base name to its local path (``models.embedder.resolve_model_path``)."""
    base = resolve(name.removeprefix(PREFIX))
    source = content_digest(Path(base)) if Path(base).exists() else base  # content, not install path
    stamp = hashlib.sha256(f"{source}|{version('model2vec')}|{PCA_DIMS}".encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.removeprefix(PREFIX).rstrip("/").split("/")[-1])
    return _built_once(cache_root(), f"static-{slug}", stamp, lambda out: _distil(base, out))


def _distil(base: str, out: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding

    static = StaticEmbedding.from_distillation(base, pca_dims=PCA_DIMS, device="cpu")
    SentenceTransformer(modules=[static], device="cpu").save(str(out))
