"""The ``voc`` command line: ingest, run, export, dashboard, demo.

Errors are one clear line and a non-zero exit code; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from voc.config import Settings, configure_runtime, run_parameters

app = typer.Typer(add_completion=False, no_args_is_help=True, help="voice-of-customer insight pipeline")
export_app = typer.Typer(no_args_is_help=True, help="Export the store as CSV.")
app.add_typer(export_app, name="export")
topics_app = typer.Typer(no_args_is_help=True, help="Look at and curate the topic taxonomy.")
app.add_typer(topics_app, name="topics")
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DEMO_DATA = Path(__file__).resolve().parents[1] / "demo" / "data"
DASHBOARD_APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
_state = {"debug": False}

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        "-s",
        help="DuckDB store file, or a postgresql:// URL (default ./voc.duckdb or VOC_STORE)",
    ),
]


def _settings(store: str | None) -> Settings:
    settings = Settings(store=store) if store else Settings()
    configure_runtime(settings)
    return settings


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or globs of message records")],
    store: StoreOpt = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="auto|messages|jsonl|csv|parquet|twcs|conversations|whatsapp|email"
        ),
    ] = "auto",
    business_name: Annotated[
        list[str] | None,
        typer.Option("--business-name", "-b", help="The brand's name, handle, address, @domain"),
    ] = None,
    reread: Annotated[
        bool, typer.Option("--reread", help="Read files again even if unchanged since the last ingest")
    ] = False,
) -> None:
    """Load messages or conversations into the store (bad records are quarantined, duplicates skipped)."""
    from pipeline.ingest import ingest as run_ingest
    from pipeline.privacy import privacy_from
    from pipeline.sources import ReadOptions

    settings = _settings(store)
    target = settings.open_store()
    options = ReadOptions(
        business_names=tuple(business_name or settings.business_names), timezone=settings.business_timezone
    )
    privacy = privacy_from(settings)
    with console.status("ingesting…") as status:
        seen = {"n": 0}

        def progress(n: int) -> None:
            seen["n"] += n
            status.update(f"ingesting… {seen['n']:,} records read")

        report = run_ingest(
            [str(p) for p in paths],
            target,
            fmt=fmt,
            options=options,
            progress=progress,
            watermark=not reread,
            privacy=privacy,
        )
    out.print(report.summary())
    for reason, n in sorted(report.reasons.items(), key=lambda kv: -kv[1])[:10]:
        out.print(f"  quarantined {n} × {reason}")
    if report.quarantined:
        out.print(f"  see them with: voc export quarantine --store {target.name} --out quarantine.csv")


@app.command()
def run(
    store: StoreOpt = None,
    refit: Annotated[
        bool, typer.Option("--refit", help="Re-fit topics even if new messages fit the known ones")
    ] = False,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="Fast mode for very large runs: the transformer embeds a sample (fast_fit_sample texts), "
            "a static encoder the rest",
        ),
    ] = False,
) -> None:
    """Run the Prefect flow voc_pipeline: new messages join the known topics, or topics are re-fitted
    when drift says so (ids are kept either way)."""
    settings = _settings(store)
    if refit:
        settings.refit = True
    if fast:
        settings.fast = True
        try:
            settings.check_fast_mode()  # the check fast = true in voc.toml gets
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fast") from exc
    target = settings.open_store()
    if not target.exists():
        raise typer.BadParameter(f"{target.name}: no store yet; run `voc ingest` first", param_hint="--store")
    from flows.voc_pipeline import pipeline_flow

    on = f" (Dask: {settings.dask_address})" if settings.dask_address else ""
    out.print(f"running voc_pipeline on {target.name}{on} …")
    flow = pipeline_flow(settings.dask_address)
    os.environ.update(target.credentials_env())  # Prefect keeps parameters: the location has no password
    result = flow(target.location, run_parameters(settings), show_progress=True)
    topics = result.get("topics", {})
    out.print(
        f"run {result['run_id']} completed: {topics.get('customer_messages', 0)} customer messages, "
        f"{topics.get('topics', 0)} topics, {topics.get('outlier_share', 0):.1%} outliers, "
        f"{result.get('insights', {}).get('weeks', 0)} weeks"
    )
    out.print(f"  topics {topics.get('mode', '-')}: {topics.get('reason', '')}")


@app.command()
def serve(
    store: StoreOpt = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Cron schedule (default: schedule_cron, Mondays 06:00)")
    ] = None,
    interval: Annotated[
        float | None, typer.Option("--interval", help="Run every N seconds instead of on a cron schedule")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Deployment name")] = "voc-weekly",
) -> None:
    """Serve the scheduled flow: pull every configured source, then run the pipeline, on a schedule.

    Runs until Ctrl+C; runs never overlap. Sources come from config (the sources list in voc.toml,
    or VOC_SOURCES as JSON); the cron is read in business_timezone. Without PREFECT_API_URL a local
    Prefect server is started for the schedule and stopped with this command."""
    settings = _settings(store)
    _need_sources(settings)

    import signal

    from voc.prefect_server import local_prefect_server

    def stop(signum, frame):  # a service manager's SIGTERM stops like Ctrl+C: runner first, server last
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt), local_prefect_server(settings.prefect_server_port):
        _serve(settings, cron, interval, name)


def _need_sources(settings: Settings) -> None:
    if not settings.pull_sources():
        raise typer.BadParameter(
            "no sources configured: add [[sources]] with a path to voc.toml, or set VOC_SOURCES "
            '(e.g. \'[{"path": "exports/*.jsonl"}]\'), or land webhooks with `voc receive`',
            param_hint="sources",
        )


@app.command()
def pull(store: StoreOpt = None) -> None:
    """Pull every configured source once (and what `voc receive` landed), from where the last pull
    stopped; `voc run` then analyses it. `voc serve` does both on a schedule."""
    from pipeline.privacy import privacy_from
    from pipeline.pull import pull_source

    settings = _settings(store)
    _need_sources(settings)
    tz = settings.business_timezone
    privacy = privacy_from(settings)
    target = settings.open_store()
    for source in settings.pull_sources():
        report = pull_source(source, target, settings.business_names, tz, privacy)
        out.print(f"{source.kind} {source.name}: {report.summary()}")


@app.command()
def receive(
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default webhooks.port, 8600)")] = None,
) -> None:
    """Serve the webhook receiver: WhatsApp, Messenger, RCS and Business Messages post their messages
    to /webhooks/<platform>; each is checked, made private and landed before the platform gets 200.
    Scheduled runs (or `voc pull`) take what landed into the store."""
    import logging

    import uvicorn

    from pipeline.privacy import privacy_from
    from voc.receiver import create_app

    settings = _settings(None)
    hooks = settings.webhooks
    configured = hooks.configured()
    if not configured:
        raise typer.BadParameter(
            "no platform configured: set e.g. VOC_WEBHOOKS__WHATSAPP_APP_SECRET (see README, Webhooks)",
            param_hint="webhooks",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app_ = create_app(settings, privacy_from(settings))
    host, port = host or hooks.host, port or hooks.port
    out.print(
        f"receiving {', '.join(configured)} webhooks on http://{host}:{port}/webhooks/<platform>, "
        f"landing in {settings.landing_path}; Ctrl+C to stop"
    )
    # keep-alive past the platforms' connection reuse, so a burst does not race idle-connection closes
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=75)


def _serve(settings: Settings, cron: str | None, interval: float | None, name: str) -> None:
    from datetime import timedelta

    # imported once PREFECT_API_URL points at a server: Prefect reads its settings on import
    from prefect.schedules import Cron, Interval

    from flows.scheduled import voc_scheduled

    if interval:
        schedule, when = Interval(timedelta(seconds=interval)), f"every {interval:g} s"
    else:
        expr = cron or settings.schedule_cron
        schedule, when = (
            Cron(expr, timezone=settings.business_timezone),
            f"{expr} ({settings.business_timezone})",
        )
    n = len(settings.pull_sources())
    target = settings.open_store()
    os.environ.update(target.credentials_env())  # flow runs get the store's location without it
    out.print(f"serving {name}: {n} source(s) into {target.name}, {when}; Ctrl+C to stop")
    voc_scheduled.serve(
        name=name,
        schedules=[schedule],
        parameters={
            "store_path": target.location,
            "settings": run_parameters(settings),
        },
        limit=1,
        print_starting_message=False,
    )


def _export(what: str, store: str | None, dest: Path) -> None:
    from pipeline.export import export

    n = export(_current_store(store), what, dest)
    out.print(f"wrote {n} rows to {dest}")


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="CSV file to write")]


@export_app.command("messages")
def export_messages(store: StoreOpt = None, dest: OutOpt = Path("messages.csv")) -> None:
    """One row per stored message, redacted, with topic and sentiment."""
    _export("messages", store, dest)


@export_app.command("weekly")
def export_weekly(store: StoreOpt = None, dest: OutOpt = Path("weekly.csv")) -> None:
    """One row per ISO week and topic: volume, share, change, sentiment, status."""
    _export("weekly", store, dest)


@export_app.command("themes")
def export_themes(store: StoreOpt = None, dest: OutOpt = Path("themes.csv")) -> None:
    """One row per ISO week and theme: volume, the count tested, expected count, status and its test."""
    _export("themes", store, dest)


@export_app.command("channels")
def export_channels(store: StoreOpt = None, dest: OutOpt = Path("channels.csv")) -> None:
    """One row per ISO week and channel: messages, conversations, expected conversations, status."""
    _export("channels", store, dest)


@export_app.command("quarantine")
def export_quarantine(store: StoreOpt = None, dest: OutOpt = Path("quarantine.csv")) -> None:
    """Records that failed validation, with file, line, field and reason."""
    _export("quarantine", store, dest)


@app.command()
def digest(
    store: StoreOpt = None,
    week: Annotated[
        str | None,
        typer.Option("--week", "-w", help="Any day of the week (YYYY-MM-DD); default: last complete week"),
    ] = None,
    dest: Annotated[Path, typer.Option("--out", "-o", help="Markdown file (.html writes HTML)")] = Path(
        "brief.md"
    ),
    html: Annotated[Path | None, typer.Option("--html", help="Also write the brief as HTML here")] = None,
) -> None:
    """Write the weekly brief: top themes, movers with verbatims, sentiment shifts, channels."""
    from pipeline.digest import write_digest

    done = write_digest(_current_store(store), week, dest, html)
    out.print(f"wrote the brief for the week of {done} to {dest}" + (f" and {html}" if html else ""))


def _current_store(store: str | None):
    """The configured store, with what an older voc's store lacks added first (readers need it)."""
    target = _settings(store).open_store()
    added = target.upgrade()
    if added:
        out.print(f"upgraded {target.name} to this version of voc (added {', '.join(added)})")
    return target


def _store_rw(store: str | None):
    target = _current_store(store)
    if not target.exists():
        raise typer.BadParameter(f"{target.name}: no store yet", param_hint="--store")
    return target


ByOpt = Annotated[str | None, typer.Option("--by", help="Who decides (default: your user name)")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="Why, for the record")]


@topics_app.command("list")
def topics_list(
    store: StoreOpt = None,
    merged: Annotated[bool, typer.Option("--merged", help="Include merged topics")] = False,
) -> None:
    """Topics with id, label (and where it comes from), state and size."""
    from rich.table import Table

    from pipeline.overrides import topic_list

    frame = topic_list(_store_rw(store), include_merged=merged)
    table = Table("id", "label", "label from", "state", "size", "theme")
    for r in frame.itertuples():
        state = f"merged into {int(r.merged_into)}" if r.state == "merged" else _text(r.state, "active")
        table.add_row(
            str(r.topic_id), _text(r.label), _text(r.label_source, "auto"), state,
            _text(r.size, "0"), _text(r.theme_label),
        )  # fmt: skip
    out.print(table)


@topics_app.command("rename")
def topics_rename(
    topic_id: Annotated[int, typer.Argument(help="Topic id (see `voc topics list`)")],
    label: Annotated[str, typer.Argument(help="The new label")],
    store: StoreOpt = None,
    by: ByOpt = None,
    note: NoteOpt = None,
) -> None:
    """Rename a topic; the name survives every later run."""
    from pipeline.overrides import record_decision

    record_decision(_store_rw(store), "rename", topic_id, label=label, decided_by=by, note=note)
    out.print(f"topic {topic_id} is now {label!r}")


@topics_app.command("pin")
def topics_pin(
    topic_id: Annotated[int, typer.Argument(help="Topic id")],
    store: StoreOpt = None,
    by: ByOpt = None,
    note: NoteOpt = None,
) -> None:
    """Keep a topic's current label whatever later re-fits call it."""
    from pipeline.overrides import record_decision

    d = record_decision(_store_rw(store), "pin", topic_id, decided_by=by, note=note)
    out.print(f"topic {topic_id} keeps the label {d['label']!r}")


@topics_app.command("merge")
def topics_merge(
    topic_id: Annotated[int, typer.Argument(help="Topic to merge away")],
    into: Annotated[int, typer.Argument(help="Topic that takes its messages")],
    store: StoreOpt = None,
    by: ByOpt = None,
    note: NoteOpt = None,
) -> None:
    """Merge one topic into another: its messages move, its id is retired, the lineage records it."""
    from pipeline.overrides import record_decision

    d = record_decision(_store_rw(store), "merge", topic_id, target=into, decided_by=by, note=note)
    out.print(f"topic {topic_id} merged into topic {d['target_topic_id']}")


@topics_app.command("history")
def topics_history(
    topic_id: Annotated[int | None, typer.Argument(help="One topic (default: all)")] = None,
    store: StoreOpt = None,
) -> None:
    """Lineage: topics created, split, merged, gone dormant or revived, and re-fits with their reason."""
    from rich.table import Table

    from pipeline.overrides import history

    frame = history(_store_rw(store), topic_id)
    table = Table("when", "event", "topic", "related", "messages", "detail")
    for r in frame.itertuples():
        table.add_row(
            str(r.happened_at)[:19],
            r.event,
            "" if pd_isna(r.topic_id) else str(int(r.topic_id)),
            "" if pd_isna(r.related_topic_id) else str(int(r.related_topic_id)),
            "" if pd_isna(r.messages) else str(int(r.messages)),
            "" if pd_isna(r.detail) else str(r.detail),
        )
    out.print(table)


def _text(v, default: str = "") -> str:
    return default if pd_isna(v) else str(int(v) if isinstance(v, float) and v.is_integer() else v)


def pd_isna(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


@app.command()
def dashboard(
    store: StoreOpt = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port (default 8501)")] = None,
) -> None:
    """Serve the Streamlit dashboard on the store (reads it; taxonomy decisions are its only writes)."""
    settings = _settings(store)
    port = port or settings.dashboard_port
    target = settings.open_store()
    env = {**os.environ, **target.credentials_env(), "VOC_STORE": target.location}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",
        "type",  # an unexpected failure shows its type, never a traceback, to the people reading
    ]
    out.print(f"dashboard on http://localhost:{port}  (store {target.name}; Ctrl+C to stop)")
    if os.name == "posix":  # become Streamlit: a stop signal (systemd, docker, kill) reaches the server
        sys.stdout.flush()
        os.execve(sys.executable, cmd, env)
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(cmd, env=env, check=True)


@app.command()
def demo(
    store: StoreOpt = None,
    port: Annotated[int | None, typer.Option("--port", "-p")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the dashboard at the end")] = True,
) -> None:
    """Ingest the bundled demo conversations, run the pipeline once, and open the dashboard."""
    if not DEMO_DATA.is_dir():
        raise typer.BadParameter(f"{DEMO_DATA}: bundled demo data not found (run from a clone of the repo)")
    ingest([DEMO_DATA], store=store)
    run(store=store, refit=False)
    if serve:
        dashboard(store=store, port=port)


def main() -> None:
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # one clear line unless --debug
        import click

        if _state["debug"] or "--debug" in sys.argv:
            raise
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
