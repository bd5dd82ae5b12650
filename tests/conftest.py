"""Shared fixtures: real data from ../shared/data, models loaded once, one CLI-built store per session."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.postgres_server import NoPostgres, postgres_server

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config):
    if not SHARED.is_dir():
        raise pytest.UsageError(
            f"{SHARED}: the shared data sets are missing (tests read real data from there)"
        )


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect server for the flows that tests run in this process (in-process CLI runs, a flow
    called directly), stopped when the session ends. Without it the first such flow starts Prefect's
    temporary server, which stops at interpreter exit and logs "Stopping temporary server" to a stream
    pytest has closed by then ("--- Logging error ---" after the pass line)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def runtime_env(tmp_path_factory) -> dict[str, str]:
    """Environment for voc subprocesses: offline, quiet Prefect with its own home."""
    home = tmp_path_factory.mktemp("prefect_home")
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VOC_IDENTIFIER_KEY_FILE": str(home / "voc-salt"),  # the identifier key, outside the repo
    }
    env.pop("VOC_STORE", None)
    return env


def voc(
    args: list[str], env: dict[str, str], check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run the real `voc` command line."""
    proc = subprocess.run(
        [sys.executable, "-m", "voc.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"voc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Fictional PII planted in the fixture: none of it may reach the store.
PLANTED_PII = [
    "jane.doe@example.com",
    "+33 6 12 34 56 78",
    "(415) 555-0132",
    "4111 1111 1111 1111",
    "FR14 2004 1010 0505 0001 3M02 606",
]

BANKING_INTENTS = [
    "card_arrival",
    "lost_or_stolen_card",
    "exchange_rate",
    "change_pin",
    "request_refund",
    "top_up_failed",
    "terminate_account",
    "apple_pay_or_google_pay",
]
FRENCH_INTENTS = ["alarm_set", "qa_currency", "transport_ticket"]
CHANNELS = ["whatsapp", "webchat", "messenger", "email", "rcs", "gbm"]
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # a Monday


def build_fixture_messages(shared: Path) -> list[dict]:
    """A few hundred real messages over 4 weeks: SGD dialogues (customer + agent turns),
    Banking77 test queries (English) and MASSIVE fr-FR utterances (French), with planted PII."""
    rows: list[dict] = []
    with (shared / "sgd_banking_dialogues" / "sgd_banks_dialogues.jsonl").open() as fh:
        dialogues = [json.loads(line) for line, _ in zip(fh, range(40), strict=False)]
    for d_i, dialogue in enumerate(dialogues):
        t = START + timedelta(days=(d_i * 5) % 28, hours=d_i % 9)
        for k, turn in enumerate(dialogue["turns"]):
            rows.append(
                {
                    "conversation_id": f"sgd-{dialogue['dialogue_id']}",
                    "sent_at": (t + timedelta(minutes=k)).isoformat(),
                    "author_role": turn["speaker"],
                    "channel": CHANNELS[d_i % len(CHANNELS)],
                    "text": turn["text"],
                    "brand": "Acme Bank",
                }
            )
    per_intent: dict[str, int] = {}
    with (shared / "banking77" / "test.csv").open() as fh:
        for row in csv.DictReader(fh):
            intent = row["category"]
            if intent in BANKING_INTENTS and per_intent.get(intent, 0) < 25:
                i = per_intent[intent] = per_intent.get(intent, 0) + 1
                rows.append(
                    {
                        "conversation_id": f"b77-{intent}-{i}",
                        "text": row["text"],
                        "sent_at": (START + timedelta(days=(i * 3) % 28, hours=i % 10)).isoformat(),
                        "channel": CHANNELS[i % len(CHANNELS)],
                        "csat": 1 + i % 5,
                    }
                )
    per_intent = {}
    with (shared / "massive" / "fr-FR_train.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["intent"] in FRENCH_INTENTS and per_intent.get(rec["intent"], 0) < 20:
                i = per_intent[rec["intent"]] = per_intent.get(rec["intent"], 0) + 1
                rows.append(
                    {
                        "conversation_id": f"fr-{rec['intent']}-{i}",
                        "text": rec["utt"],
                        "sent_at": (START + timedelta(days=(i * 2) % 28)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
                        "channel": "whatsapp",
                    }
                )
    customers = [r for r in rows if r.get("author_role", "customer") == "customer"]
    for k, pii in enumerate(PLANTED_PII):
        target = customers[k * 37]
        target["text"] = f"{target['text']} You can reach me at {pii} anytime."
    return rows


BAD_LINES = [
    ('{"conversation_id": "bad-1", "text": "broken json", ', "bad JSON"),
    (json.dumps({"text": "no conversation id here"}), "conversation_id"),
    (json.dumps({"conversation_id": "bad-3"}), "text"),
    (json.dumps({"conversation_id": "bad-4", "text": ["not", "a", "string"]}), "text"),
    (json.dumps({"conversation_id": "bad-5", "text": "when?", "sent_at": "yesterday-ish"}), "sent_at"),
    (json.dumps({"conversation_id": "bad-6", "text": "hello", "author_role": "manager"}), "author_role"),
    (
        json.dumps(
            {"conversation_id": "bad-7", "text": "mail bad.actor@example.com", "sent_at": "31/31/2026"}
        ),
        "sent_at",
    ),
]


def write_late_card_message(path: Path, conversation_id: str, channel: str) -> Path:
    """One new customer message after the fixture's weeks, for incremental-run tests."""
    message = {
        "conversation_id": conversation_id,
        "text": "My new card still has not arrived, it's been two weeks",
        "sent_at": "2026-11-01T10:00:00Z",
        "channel": channel,
    }
    path.write_text(json.dumps(message) + "\n")
    return path


@pytest.fixture(scope="session")
def fixture_file(tmp_path_factory, shared) -> Path:
    """JSONL of real messages with the bad records of BAD_LINES interleaved."""
    path = tmp_path_factory.mktemp("data") / "messages.jsonl"
    rows = build_fixture_messages(shared)
    with path.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i % 97 == 50 and i // 97 < len(BAD_LINES):
                fh.write(BAD_LINES[i // 97][0] + "\n")
        for line, _ in BAD_LINES[len(rows) // 97 :]:
            fh.write(line + "\n")
    return path


@pytest.fixture(scope="session")
def pipeline_store(tmp_path_factory, fixture_file, runtime_env) -> Path:
    """A store built the way a user builds it: `voc ingest` then `voc run`."""
    store = tmp_path_factory.mktemp("store") / "voc.duckdb"
    voc(["ingest", str(fixture_file), "--store", str(store)], runtime_env)
    voc(["run", "--store", str(store)], runtime_env)
    return store


@pytest.fixture(scope="session")
def embedder():
    from models.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server (see tests/postgres_server.py), or the test is skipped saying why."""
    try:
        with postgres_server() as url:
            yield url
    except NoPostgres as exc:
        pytest.skip(f"no PostgreSQL server for the PostgreSQL store tests: {exc}")


@pytest.fixture
def postgres_store(postgres_url, request) -> str:
    """A store location of its own for one test: a fresh schema in the test server's database."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    return f"{postgres_url}?schema=t_{name}_{os.urandom(3).hex()}"
