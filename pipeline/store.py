"""The store: the only state shared between steps, the flow and the dashboard.

Two backends behind one interface. The default is an embedded DuckDB file: writers open it briefly
per step and retry while another process holds it; the dashboard opens it read-only and
short-lived, so neither blocks the other for long. A ``postgresql://`` location keeps the same
tables in PostgreSQL, for teams whose flows and dashboard run on different machines: every
connection is then an in-memory DuckDB engine with the database attached through DuckDB's postgres
extension, so each step's SQL (and its joins with the pandas frames it registers) is the same on
both, and PostgreSQL's MVCC replaces the file lock. Every write is an upsert keyed by ids, so a step
that fails halfway can be re-run without duplicating anything.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pandas as pd

SCHEMA_VERSION = 1

# The week a message counts in (Monday, in the store's business time zone, which every connection
# sets), for SQL over ``messages m``: the weekly statistics, topic histories and the dashboard's
# reads must all cut weeks alike.
MESSAGE_WEEK = "CAST(date_trunc('week', coalesce(m.sent_at, m.ingested_at)) AS DATE)"

# Table -> (DDL, short description). The README lists every table; tests/test_docs.py keeps them in sync.
# a unit's tested week (pipeline.weekly's status rule), as theme_weekly and channel_weekly store it
_TESTED = """baseline DOUBLE,
            expected DOUBLE,
            change_vs_baseline DOUBLE,
            status VARCHAR,
            status_test VARCHAR,
            p_value DOUBLE,
            trend_factor DOUBLE,
            trend_from DOUBLE,
            trend_to DOUBLE,
            trend_weeks INTEGER,
            trend_q DOUBLE,"""

TABLES: dict[str, tuple[str, str]] = {
    "conversations": (
        """
        CREATE TABLE IF NOT EXISTS conversations (
            conversation_id VARCHAR PRIMARY KEY,
            channel VARCHAR,
            first_at TIMESTAMPTZ,
            last_at TIMESTAMPTZ,
            n_messages INTEGER,
            n_customer_messages INTEGER,
            metadata JSON,
            sentiment_score DOUBLE,
            sentiment_label VARCHAR,
            sentiment_first DOUBLE,
            sentiment_last DOUBLE,
            sentiment_change DOUBLE
        )""",
        "one row per conversation: channel, first/last message time, counts, metadata of its first "
        "message, and per-conversation sentiment (mean of customer turns, first and last turn, change)",
    ),
    "messages": (
        """
        CREATE TABLE IF NOT EXISTS messages (
            message_id VARCHAR PRIMARY KEY,
            conversation_id VARCHAR NOT NULL,
            sent_at TIMESTAMPTZ,
            author_role VARCHAR NOT NULL,
            channel VARCHAR,
            language VARCHAR,
            language_source VARCHAR,
            text VARCHAR NOT NULL,
            text_hash VARCHAR NOT NULL,
            is_customer BOOLEAN,
            metadata JSON,
            source_file VARCHAR,
            source_line BIGINT,
            ingested_at TIMESTAMPTZ,
            prepared_at TIMESTAMPTZ
        )""",
        "one row per message, text already redacted; language (given or detected), is_customer, "
        "metadata columns as JSON, where it came from (file, line)",
    ),
    "quarantine": (
        """
        CREATE TABLE IF NOT EXISTS quarantine (
            quarantine_id VARCHAR PRIMARY KEY,
            source_file VARCHAR,
            source_line BIGINT,
            field VARCHAR,
            reason VARCHAR,
            raw VARCHAR,
            quarantined_at TIMESTAMPTZ
        )""",
        "records that failed validation: file, line/row, field, reason and the raw record (redacted)",
    ),
    "embeddings": (
        """
        CREATE TABLE IF NOT EXISTS embeddings (
            model VARCHAR,
            text_hash VARCHAR,
            vector FLOAT[],
            created_at TIMESTAMPTZ,
            PRIMARY KEY (model, text_hash)
        )""",
        "sentence embeddings keyed by (model, text hash): a text is never embedded twice",
    ),
    "projections": (
        """
        CREATE TABLE IF NOT EXISTS projections (
            model VARCHAR PRIMARY KEY,
            static_model VARCHAR,
            weights FLOAT[],
            static_dim INTEGER,
            dim INTEGER,
            fitted_on INTEGER,
            held_out_cosine DOUBLE,
            created_at TIMESTAMPTZ
        )""",
        "fast mode's map from the static encoder's vectors into the topic model's space (a ridge "
        "regression fitted once on the transformer's sample; weights row-major, bias last)",
    ),
    "topics": (
        """
        CREATE TABLE IF NOT EXISTS topics (
            topic_id INTEGER PRIMARY KEY,
            label VARCHAR,
            keywords VARCHAR[],
            size INTEGER,
            representative_ids VARCHAR[],
            centroid FLOAT[],
            x DOUBLE,
            y DOUBLE,
            theme_id INTEGER,
            theme_label VARCHAR,
            run_id VARCHAR,
            updated_at TIMESTAMPTZ,
            auto_label VARCHAR,
            label_source VARCHAR,
            state VARCHAR,
            merged_into INTEGER,
            fit_similarity DOUBLE,
            created_run_id VARCHAR,
            tracked_from TIMESTAMPTZ
        )""",
        "every topic any run has found, ids never reused: label (after overrides; auto_label is the "
        "model's), c-TF-IDF keywords, size, representative message ids, centroid, a 2-D position for "
        "maps, the theme (group of topics), state (active, dormant, merged into another), tracked_from "
        "(weeks before it are reconstructed, so statuses do not test them); topic -1 holds the outliers",
    ),
    "topic_lineage": (
        """
        CREATE TABLE IF NOT EXISTS topic_lineage (
            event_id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            event VARCHAR,
            topic_id INTEGER,
            related_topic_id INTEGER,
            messages INTEGER,
            detail VARCHAR,
            happened_at TIMESTAMPTZ
        )""",
        "what happened to topic identities, run by run: created, split (from related topic), merged (into "
        "related topic), dormant, revived, refit (with its reason); messages moved by the event",
    ),
    "topic_history": (
        """
        CREATE TABLE IF NOT EXISTS topic_history (
            topic_id INTEGER,
            week DATE,
            messages INTEGER,
            conversations INTEGER,
            run_id VARCHAR,
            PRIMARY KEY (topic_id, week)
        )""",
        "for a topic a re-fit made out of messages other topics already held: its cluster's earlier "
        "members (messages and conversations) per week in that fit, the weeks before tracked_from (one "
        "clustering, so comparable); the weekly status tests its first week against them",
    ),
    "topic_counts": (
        """
        CREATE TABLE IF NOT EXISTS topic_counts (
            topic_id INTEGER,
            week DATE,
            messages INTEGER,
            conversations INTEGER,
            run_id VARCHAR,
            PRIMARY KEY (topic_id, week)
        )""",
        "customer messages and conversations per topic and week as the last run's topics count them: each "
        "message some topic holds goes to the nearest live topic centroid (outliers stay out), so every week "
        "is counted by one rule; the weekly status test compares these conversation counts (see "
        "pipeline.topic_counts)",
    ),
    "topic_overrides": (
        """
        CREATE TABLE IF NOT EXISTS topic_overrides (
            decision_id VARCHAR PRIMARY KEY,
            action VARCHAR NOT NULL,
            topic_id INTEGER NOT NULL,
            target_topic_id INTEGER,
            label VARCHAR,
            decided_by VARCHAR,
            decided_at TIMESTAMPTZ,
            note VARCHAR
        )""",
        "taxonomy decisions by people (rename, pin a label, merge one topic into another) with who and "
        "when; re-applied after every run, in the order they were made",
    ),
    "topic_impact": (
        """
        CREATE TABLE IF NOT EXISTS topic_impact (
            topic_id INTEGER,
            metric VARCHAR,
            conversations INTEGER,
            score_with DOUBLE,
            score_without DOUBLE,
            overall DOUBLE,
            impact DOUBLE,
            run_id VARCHAR,
            p_value DOUBLE,
            q_value DOUBLE,
            PRIMARY KEY (topic_id, metric)
        )""",
        "per topic and score field (csat, nps) found in conversation metadata: the score of the topic's "
        "conversations, the overall score with and without them, and impact = overall - without; whether "
        "they score differently from the other conversations (Mann-Whitney p- and BH q-value)",
    ),
    "conversation_endings": (
        """
        CREATE TABLE IF NOT EXISTS conversation_endings (
            conversation_id VARCHAR PRIMARY KEY,
            week DATE,
            customer_turns INTEGER,
            closing_message_id VARCHAR,
            closing_topic_id INTEGER,
            ending VARCHAR,
            run_id VARCHAR
        )""",
        "per conversation: the week of its last customer turn and how it ended: thanked, unhappy or "
        "neutral (the sentiment of a closing turn: the last of several, in a topic customers close "
        "conversations with) or none",
    ),
    "courtesy_topics": (
        """
        CREATE TABLE IF NOT EXISTS courtesy_topics (
            topic_id INTEGER PRIMARY KEY,
            sampled INTEGER,
            content_free INTEGER,
            courtesy BOOLEAN,
            run_id VARCHAR
        )""",
        "per topic: of a sample of its customer messages, how many say nothing but courtesy words "
        "(yes, thanks, sounds good, merci...), and whether that is a third or more: a courtesy topic, left "
        "out of themes, topics tables, impact and the requests' endings as closing topics are",
    ),
    "assignments": (
        """
        CREATE TABLE IF NOT EXISTS assignments (
            message_id VARCHAR PRIMARY KEY,
            topic_id INTEGER,
            probability DOUBLE,
            run_id VARCHAR
        )""",
        "topic of every customer message (-1 = outlier) with the cluster membership strength",
    ),
    "week_shifts": (
        """
        CREATE TABLE IF NOT EXISTS week_shifts (
            week DATE,
            direction VARCHAR,
            shift INTEGER,
            message_id VARCHAR,
            this_week BOOLEAN,
            neighbours_now INTEGER,
            messages INTEGER,
            before INTEGER,
            expected DOUBLE,
            p_value DOUBLE,
            family_p DOUBLE,
            run_id VARCHAR,
            conversations INTEGER,
            PRIMARY KEY (week, direction, message_id)
        )""",
        "per week, the groups of similar messages (for a rise, also a message and its nearest) whose share "
        "of that week rose or fell significantly "
        "against its 4 earlier weeks, found from nearest neighbours without the topics (see "
        "pipeline.local_shifts), one row per member message of the week or its baseline weeks; the test "
        "counts conversations, each once (conversations: the group's this week, before: in its baseline "
        "weeks, expected: this week's expected; messages: the group's this week); the weekly "
        "status test flags the topic holding most of a group",
    ),
    "sentiment": (
        """
        CREATE TABLE IF NOT EXISTS sentiment (
            message_id VARCHAR PRIMARY KEY,
            label VARCHAR,
            score DOUBLE,
            p_negative DOUBLE,
            p_neutral DOUBLE,
            p_positive DOUBLE,
            model VARCHAR
        )""",
        "per customer message: negative/neutral/positive, score = P(positive) - P(negative) in [-1, 1]",
    ),
    "weekly_stats": (
        """
        CREATE TABLE IF NOT EXISTS weekly_stats (
            week DATE,
            topic_id INTEGER,
            messages INTEGER,
            conversations INTEGER,
            share DOUBLE,
            previous_messages INTEGER,
            change DOUBLE,
            baseline DOUBLE,
            sentiment DOUBLE,
            negative_share DOUBLE,
            status VARCHAR,
            p_value DOUBLE,
            run_id VARCHAR,
            expected DOUBLE,
            change_vs_baseline DOUBLE,
            sentiment_change DOUBLE,
            channels JSON,
            part_messages INTEGER,
            part_expected DOUBLE,
            part_message_ids JSON,
            tested_conversations INTEGER,
            sentiment_baseline DOUBLE,
            sentiment_p DOUBLE,
            sentiment_q DOUBLE,
            status_test VARCHAR,
            trend_factor DOUBLE,
            trend_from DOUBLE,
            trend_to DOUBLE,
            trend_weeks INTEGER,
            trend_q DOUBLE,
            part_conversations INTEGER,
            PRIMARY KEY (week, topic_id)
        )""",
        "one row per ISO week (Monday) and topic from the topic's first week on, zero weeks included: "
        "volume (messages the topic holds), share of the week, change vs previous week, sentiment and its "
        "change, messages per channel; the status test's count (tested_conversations: the week's "
        "conversations as the last run's topics count them, see topic_counts), its volume-adjusted baseline"
        " (the 4 weeks before last week), change vs it, status and p-value; where the status comes from a "
        "local shift in the topic (see week_shifts), that group's conversations, messages, expected "
        "conversations and typical messages (part_*); the topic's mean sentiment over those baseline weeks "
        "and the sentiment shift test's p- and q-value (see pipeline.sentiment_shift); which test gave the "
        "status (status_test: week, group or trend) and the trend over the last 8 weeks (trend_*: fitted "
        "change per week, fitted counts at the window's first week and this week, weeks held, q among the "
        "topics the week left stable; see pipeline.trend_test)",
    ),
    "theme_weekly": (
        f"""
        CREATE TABLE IF NOT EXISTS theme_weekly (
            week DATE,
            theme_id INTEGER,
            theme_label VARCHAR,
            messages INTEGER,
            tested_conversations INTEGER,
            previous_messages INTEGER,
            {_TESTED}
            sentiment DOUBLE,
            sentiment_baseline DOUBLE,
            sentiment_p DOUBLE,
            sentiment_q DOUBLE,
            sentiment_within DOUBLE,
            run_id VARCHAR,
            sentiment_conversations INTEGER,
            PRIMARY KEY (week, theme_id)
        )""",
        "one row per ISO week and theme (the topics' themes as the last run left them, closing and courtesy "
        "topics left out): messages its topics hold, the count tested (its conversations, each once "
        "however many of its topics it touched), baseline, expected count, status and q from the same "
        "tests as topics (the "
        "week against the 4 weeks before last week, BH across themes; then the steady rise and fall test, "
        "see pipeline.theme_weekly); the theme's mean sentiment, its baseline weeks' mean, the shift test's "
        "p and q across themes (on its conversations, each by its messages' mean score: "
        "sentiment_conversations this week), and the part of the move its topics' own customers made "
        "(sentiment_within; the rest is the mix)",
    ),
    "channel_weekly": (
        f"""
        CREATE TABLE IF NOT EXISTS channel_weekly (
            week DATE,
            channel VARCHAR,
            messages INTEGER,
            conversations INTEGER,
            previous_conversations INTEGER,
            {_TESTED}
            run_id VARCHAR,
            PRIMARY KEY (week, channel)
        )""",
        "one row per ISO week and channel from the channel's first week: customer messages and "
        "conversations, and a status tested on conversations as topics are (the week "
        "against the 4 weeks before last week scaled by the week's conversations, BH across channels; "
        "then the steady rise and fall test, see pipeline.channel_weekly)",
    ),
    "source_files": (
        """
        CREATE TABLE IF NOT EXISTS source_files (
            source_file VARCHAR PRIMARY KEY,
            format VARCHAR,
            size BIGINT,
            mtime_ns BIGINT,
            head_sha VARCHAR,
            head_bytes BIGINT,
            records_read BIGINT,
            ingested_at TIMESTAMPTZ
        )""",
        "the ingest watermark: each file read, its size, modification time and a hash of its start, and "
        "how many records were read, so a scheduled pull skips unchanged files and reads only the rows "
        "appended to a message-record file since",
    ),
    "source_cursors": (
        """
        CREATE TABLE IF NOT EXISTS source_cursors (
            source_key VARCHAR PRIMARY KEY,
            position VARCHAR,
            records_read BIGINT,
            pulled_at TIMESTAMPTZ
        )""",
        "the watermark of database and API sources: where the next pull resumes (the last watermark "
        "value of a SQL query, the last page cursor or since-value of an API), moved after every batch",
    ),
    "runs": (
        """
        CREATE TABLE IF NOT EXISTS runs (
            run_id VARCHAR PRIMARY KEY,
            flow_run_id VARCHAR,
            started_at TIMESTAMPTZ,
            ended_at TIMESTAMPTZ,
            status VARCHAR,
            counts JSON,
            parameters JSON,
            error VARCHAR
        )""",
        "every pipeline run: start, end, status, per-stage counts and durations, parameters, error",
    ),
}


def _columns(ddl: str) -> list[tuple[str, str]]:
    """(name, type) of each column in one of the CREATE TABLE statements above."""
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    cols = []
    for line in body.splitlines():
        parts = line.strip().rstrip(",").split()
        if len(parts) >= 2 and parts[0].upper() != "PRIMARY":
            cols.append((parts[0], parts[1]))
    return cols


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> list[tuple]:
    """Run one statement and fetch its result (DuckDB 2 requires results be consumed in order)."""
    return con.execute(sql, params or []).fetchall()


class StoreError(RuntimeError):
    """The store cannot be opened or is not a voc store."""


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_ATTACHED = "voc_pg"  # the catalog name a PostgreSQL store is attached under


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def _split_schema(url: str) -> tuple[str, str]:
    """``postgresql://…/db?schema=s`` -> (URL for libpq, schema). libpq rejects unknown parameters."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    schema = schemas[-1] if schemas else "public"
    if not schema.replace("_", "").isalnum():
        raise StoreError(f"store schema {schema!r}: use letters, digits and underscores")
    return urlunsplit(parts._replace(query=rest)), schema


def _without_password(url: str) -> str:
    """The URL without its password, for messages, logs and flow parameters."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}@" if parts.username else ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=user + host))


def _load_postgres_extension(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckDB's postgres extension from the ``duckdb-extension-postgres`` wheel (offline).

    DuckDB would download it from extensions.duckdb.org; the wheel ships the same signed binary,
    which DuckDB installs into its own extension directory the first time.
    """
    try:
        execute(con, "LOAD postgres")
        return
    except duckdb.Error:
        pass
    try:
        import duckdb_extension_postgres
    except ImportError as exc:
        raise StoreError("a PostgreSQL store needs the duckdb-extension-postgres package") from exc
    shipped = Path(duckdb_extension_postgres.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    binary = shipped / "postgres.duckdb_extension"
    if not binary.exists():
        raise StoreError(
            f"duckdb {duckdb.__version__} has no postgres extension in duckdb-extension-postgres "
            "(install the same version of both)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        named = Path(tmp) / "postgres_scanner.duckdb_extension"  # DuckDB derives the entry point from it
        named.symlink_to(binary)
        execute(con, f"INSTALL '{named}'")
    execute(con, "LOAD postgres")


class Store:
    """voc's tables in a DuckDB file or a PostgreSQL schema. Cheap to create; connections per use."""

    def __init__(self, location: str | Path, *, timezone: str = "UTC", lock_timeout_s: float = 120.0) -> None:
        if is_postgres(location):
            self.url, self.schema = _split_schema(str(location))
            self.path: Path | None = None
        else:
            self.path = Path(location)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise StoreError(f"unknown business time zone {timezone!r}") from exc
        self.timezone = timezone  # weeks are cut in this zone by every query (date_trunc on TIMESTAMPTZ)
        self.lock_timeout_s = lock_timeout_s

    @property
    def location(self) -> str:
        """Where another process (a flow run, the dashboard) finds this store.

        Without the password: Prefect keeps flow parameters. A process handed this location gets
        the password from ``PGPASSWORD`` (see ``credentials_env``) or ~/.pgpass, as libpq does.
        """
        if self.path is not None:
            return str(self.path.resolve())
        url = _without_password(self.url)
        if self.schema == "public":
            return url
        return f"{url}{'&' if '?' in url else '?'}schema={self.schema}"

    def credentials_env(self) -> dict[str, str]:
        """Environment that lets a process given ``location`` connect (the URL's password, if any)."""
        password = urlsplit(self.url).password if self.path is None else None
        return {"PGPASSWORD": unquote(password)} if password else {}

    @property
    def name(self) -> str:
        """The store as shown to people: the file as given, or the URL without its password."""
        return str(self.path) if self.path is not None else self.location

    def __str__(self) -> str:
        return self.name

    def exists(self) -> bool:
        """Whether a voc store has been created here (by `voc ingest` or `voc run`)."""
        if self.path is not None:
            return self.path.exists()
        with duckdb.connect() as con:
            self._attach(con, read_only=True)
            return self._initialised(con)

    def _initialised(self, con: duckdb.DuckDBPyConnection) -> bool:
        found = execute(
            con,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = 'messages'",
            [_ATTACHED, self.schema],
        )
        return bool(found[0][0])

    def _attach(self, con: duckdb.DuckDBPyConnection, *, read_only: bool) -> None:
        _load_postgres_extension(con)
        mode = ", READ_ONLY" if read_only else ""
        url = self.url.replace("'", "''")
        try:
            execute(con, f"ATTACH '{url}' AS {_ATTACHED} (TYPE postgres{mode})")
        except duckdb.Error as exc:
            reason = str(exc).split("\n")[0].replace(self.url, self.name)
            raise StoreError(f"{self.name}: {reason}") from exc

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; for a file, waits (with backoff) while another process holds it."""
        if self.path is None:
            with duckdb.connect() as con:  # an in-memory engine, the database attached to it
                self._attach(con, read_only=read_only)
                if not read_only:
                    execute(con, f'CREATE SCHEMA IF NOT EXISTS {_ATTACHED}."{self.schema}"')
                elif not self._initialised(con):
                    raise StoreError(f"{self.name}: no store here yet (run `voc ingest` and `voc run` first)")
                execute(con, f'USE {_ATTACHED}."{self.schema}"')
                execute(con, f"SET TimeZone = '{self.timezone}'")
                yield con
            return
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no store here yet (run `voc ingest` and `voc run` first)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            execute(con, f"SET TimeZone = '{self.timezone}'")
            yield con
        finally:
            con.close()

    def init(self) -> Store:
        """Create missing tables and add columns newer versions introduced (idempotent)."""
        with self.connect() as con:
            for table, (ddl, _) in TABLES.items():
                execute(con, self._dialect(ddl))
                for name, kind in _columns(ddl):
                    execute(con, f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {self._dialect(kind)}")
        return self

    def missing(self) -> list[str]:
        """Tables and columns (``table.column``) this version of voc defines that the store lacks:
        a store an older voc wrote, which the readers (dashboard, digest, export) would fail on."""
        with self.connect(read_only=True) as con:
            rows = execute(
                con,
                "SELECT table_name, column_name FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = current_schema()",
            )
        have = {(t, c) for t, c in rows}
        tables = {t for t, _ in have}
        gone = []
        for table, (ddl, _) in TABLES.items():
            if table not in tables:
                gone.append(table)
            else:
                gone += [f"{table}.{name}" for name, _ in _columns(ddl) if (table, name) not in have]
        return gone

    def upgrade(self) -> list[str]:
        """Add what an older voc's store lacks (see ``missing``), so readers work before the next run;
        the new columns stay empty until a run fills them. Returns what was added."""
        if not self.exists():
            return []
        gone = self.missing()
        if gone:
            try:
                self.init()
            except duckdb.Error as exc:  # e.g. a PostgreSQL role that may only read
                raise StoreError(
                    f"{self.name} was written by an older voc and lacks {', '.join(gone)}; this "
                    f"connection cannot add them ({str(exc).splitlines()[0]}): run `voc run` once"
                ) from exc
        return gone

    def _dialect(self, ddl: str) -> str:
        """JSON columns are text in PostgreSQL: the extension's upsert (an UPDATE from a staging
        table of VARCHARs) cannot assign to a ``json`` column. DuckDB's JSON functions read both."""
        return ddl if self.path is not None else re.sub(r"\bJSON\b", "VARCHAR", ddl)

    def query(
        self,
        sql: str,
        params: list | dict | None = None,
        *,
        read_only: bool = True,
        frames: Mapping[str, pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """``sql``'s result; ``frames``: tables it reads by name beside the store's (not stored)."""
        with self.connect(read_only=read_only) as con:
            for name, frame in (frames or {}).items():
                con.register(name, frame)
            return con.execute(sql, params or []).df()

    def upsert(self, table: str, frame: pd.DataFrame, *, con: duckdb.DuckDBPyConnection | None = None) -> int:
        """Insert or replace rows of ``frame`` (matched on the table's primary key)."""
        if frame.empty:
            return 0
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        sql = f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM _frame"
        if con is not None:
            con.register("_frame", frame)
            execute(con, sql)
            con.unregister("_frame")
        else:
            with self.connect() as own:
                own.register("_frame", frame)
                execute(own, sql)
        return len(frame)

    def replace_all(self, table: str, frame: pd.DataFrame) -> int:
        """Replace every row of a derived ``table`` with ``frame`` in one transaction, so a reader sees
        the old table or the new one, never a half-written one."""
        with self.connect() as con:
            execute(con, "BEGIN TRANSACTION")
            execute(con, f"DELETE FROM {table}")
            self.upsert(table, frame, con=con)
            execute(con, "COMMIT")
        return len(frame)

    def insert_new(self, table: str, frame: pd.DataFrame, key: str, *, con: duckdb.DuckDBPyConnection) -> int:
        """Insert only rows whose ``key`` is not stored yet; returns how many were new."""
        if frame.empty:
            return 0
        con.register("_frame", frame)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        inserted = execute(
            con,
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _frame f "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = f.{key})",
        )
        con.unregister("_frame")
        return int(inserted[0][0]) if inserted else 0

    def counts(self) -> dict[str, int]:
        with self.connect(read_only=True) as con:
            present = {
                r[0]
                for r in execute(
                    con,
                    "SELECT table_name FROM duckdb_tables() "
                    "WHERE database_name = current_database() AND schema_name = current_schema()",
                )
            }
            return {t: execute(con, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES if t in present}
