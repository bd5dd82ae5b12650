"""The topic encoder under ``embedding_model = auto``: chosen from the customers' languages, then kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from pydantic import ValidationError

from pipeline import runs
from pipeline.encoder_choice import ENGLISH, choose_encoder
from pipeline.store import Store
from voc.config import Settings

MULTILINGUAL = "multilingual-e5-small"


def _store(tmp_path, languages: list[str], agents: int = 0) -> Store:
    store = Store(tmp_path / "voc.duckdb").init()
    rows = [
        {"message_id": f"m{i}", "conversation_id": f"c{i}", "author_role": "customer", "text": f"t{i}",
         "text_hash": f"h{i}", "is_customer": True, "language": lang}
        for i, lang in enumerate(languages)
    ] + [
        {"message_id": f"a{i}", "conversation_id": f"c{i}", "author_role": "agent", "text": f"bonjour {i}",
         "text_hash": f"ha{i}", "is_customer": False, "language": "fr"}
        for i in range(agents)
    ]  # fmt: skip
    store.upsert("messages", pd.DataFrame(rows))
    return store


def _completed_run(store: Store, model: str) -> None:
    parameters = {"embedding_model": model}
    runs.record_run(store, "run-1", status="completed", started_at=datetime.now(UTC), parameters=parameters)
    store.upsert("topics", pd.DataFrame([{"topic_id": 0, "label": "card arrival"}]))


def test_english_customers_get_the_english_encoder_even_when_agents_write_french(tmp_path):
    store = _store(tmp_path, ["en"] * 92 + ["fr"] * 8, agents=200)
    choice = choose_encoder(store, "auto")
    assert choice.model == ENGLISH
    assert "8% of 100 customer messages" in choice.reason


def test_one_customer_in_ten_in_another_language_gets_the_multilingual_encoder(tmp_path):
    store = _store(tmp_path, ["en"] * 90 + ["fr"] * 6 + ["de"] * 4)
    assert choose_encoder(store, "auto").model == MULTILINGUAL


def test_the_store_keeps_its_encoder_when_the_language_mix_changes(tmp_path):
    store = _store(tmp_path, ["en"] * 30 + ["fr"] * 70)
    _completed_run(store, ENGLISH)
    choice = choose_encoder(store, "auto")
    assert choice.model == ENGLISH and choice.reason.startswith("kept") and not choice.refit
    assert f"set embedding_model = {MULTILINGUAL}" in choice.reason  # ... and says the mix has moved


def test_topics_fitted_on_another_encoder_are_refitted(tmp_path):
    store = _store(tmp_path, ["en"] * 50 + ["fr"] * 50)
    _completed_run(store, ENGLISH)
    choice = choose_encoder(store, MULTILINGUAL)
    assert choice.model == MULTILINGUAL and choice.refit and ENGLISH in choice.reason
    assert not choose_encoder(store, ENGLISH).refit and not choose_encoder(store, "auto").refit
    assert not choose_encoder(store, "sentence-transformers/all-MiniLM-L6-v2").refit  # the same model


def test_regional_english_codes_count_as_english(tmp_path):
    store = _store(tmp_path, ["en-gb"] * 50 + ["en_us"] * 45 + ["fr-ca"] * 5)
    choice = choose_encoder(store, "auto")
    assert choice.model == ENGLISH and choice.reason.startswith("5% of 100")


def test_a_configured_encoder_and_fast_mode_are_not_second_guessed(tmp_path):
    store = _store(tmp_path, ["fr"] * 10)
    assert choose_encoder(store, "my/own-model").model == "my/own-model"
    assert choose_encoder(store, "auto", fast=True).model == ENGLISH
    Settings(fast=True)  # auto is allowed with fast mode: it resolves to MiniLM
    with pytest.raises(ValidationError, match="all-MiniLM-L6-v2"):
        Settings(fast=True, embedding_model=MULTILINGUAL)


def test_an_empty_store_starts_with_the_english_encoder(tmp_path):
    assert choose_encoder(Store(tmp_path / "voc.duckdb").init(), "auto").model == ENGLISH
