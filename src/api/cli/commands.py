"""The `complaints` command: serve the API and mint development tokens."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from api import heap
from api.cli.keys import keys
from api.http.auth import Role, mint_token
from api.settings import Settings, get_settings

cli = typer.Typer(help="Complaints Casework", no_args_is_help=True, add_completion=False)
err = Console(stderr=True)
cli.add_typer(keys, name="keys")


def load_settings() -> Settings:
    """Settings, or one clear line and exit status 2 when a value is bad."""
    get_settings.cache_clear()  # each command reads the environment as it is when it starts
    try:
        return get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"COMPLAINTS_{'_'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in error.errors()
        )
        # One plain line, never wrapped: operators grep for it in their logs.
        typer.echo(f"Invalid settings: {problems}", err=True)
        raise typer.Exit(2) from None


def this_command() -> str:
    """How to run `complaints` again from a new shell in the same folder: the path it was
    started by (`.venv/bin/complaints` under `make run`), as a new shell has no virtualenv."""
    invoked = sys.argv[0]
    if os.sep not in invoked:
        invoked = shutil.which(invoked) or invoked
    return shlex.quote(invoked)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API."""
    settings = load_settings()
    if settings.jwt_secret is None:
        # Every worker inherits the environment, so they all verify with the same key.
        secret = secrets.token_urlsafe(32)
        os.environ["COMPLAINTS_JWT_SECRET"] = secret
        get_settings.cache_clear()  # the app, in this process too, must read the key set here
        err.print(
            "[yellow]COMPLAINTS_JWT_SECRET is not set: generated one for local use only:[/yellow]\n"
            f"  export COMPLAINTS_JWT_SECRET={secret}\n"
            "Then mint a token, for example:\n"
            f"  COMPLAINTS_JWT_SECRET={secret} {this_command()} token --sub sup-0001 "
            '--name "DI Grace Hopper" --role supervisor',
            soft_wrap=True,  # a command to copy: never broken across lines
        )
    if workers > 1 and settings.prometheus_multiproc_dir is None:
        # Each worker writes its counters here and /metrics adds them up (prometheus-client).
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="complaints-metrics-")
    from api.cli.serving import serve as serve_http

    serve_http(host, port, workers)


@cli.command()
def token(
    sub: Annotated[str, typer.Option(help="The actor's id, recorded on every event")],
    name: Annotated[str, typer.Option(help="The actor's display name")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several")],
    ttl: Annotated[int, typer.Option(min=1, help="Seconds until it expires")] = 8 * 3600,
) -> None:
    """Print a signed JWT for development and tests."""
    settings = load_settings()
    if settings.jwt_secret is None:
        err.print("[red]Set COMPLAINTS_JWT_SECRET (`complaints serve` prints one).[/red]")
        raise typer.Exit(2)
    roles = [r.value for r in role]
    typer.echo(
        mint_token(settings.jwt_secret.get_secret_value(), sub=sub, name=name, roles=roles, ttl=ttl)
    )


@cli.command()
def project() -> None:
    """Run every projection against the event log until stopped (SIGTERM stops it cleanly)."""
    import signal
    import threading

    from api.app import open_stores
    from api.read_models import build_coordinator

    settings = load_settings()
    stores = open_stores(settings)
    heap.settle()
    complaints, models = stores.complaints, stores.read_models
    coordinator = build_coordinator(settings, complaints)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    err.print("projecting; SIGTERM stops")
    try:
        models.runner.run_forever(stop, coordinator)
    finally:
        coordinator.close()
        stores.close()
    err.print("stopped")


@cli.command()
def rebuild(
    names: Annotated[
        list[str] | None, typer.Argument(help="Read models to rebuild (default: all)")
    ] = None,
) -> None:
    """Rebuild read models from the event log, leaving them exactly as a live run would."""
    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    from api.app import open_stores
    from projections.catalogue import PROJECTIONS
    from projections.rebuild import rebuild as rebuild_read_models

    unknown = sorted(set(names or ()) - set(PROJECTIONS))
    if unknown:
        err.print(
            f"[red]No read model named {', '.join(unknown)}[/red]; known: {', '.join(PROJECTIONS)}"
        )
        raise typer.Exit(2)
    settings = load_settings()
    stores = open_stores(settings)
    heap.settle()
    complaints, store = stores.complaints, stores.read_models.store
    chosen = [PROJECTIONS[name] for name in (names or PROJECTIONS)]
    head = complaints.head_position()
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err) as progress:
            progress.console.print(f"rebuilding {', '.join(p.name for p in chosen)}")
            task = progress.add_task("events", total=head)
            rebuild_read_models(
                complaints, store, chosen, progress=lambda _, n: progress.advance(task, n)
            )
            progress.update(task, completed=head)
    except TimeoutError as error:  # the live read models are untouched until the swap
        err.print(f"[red]Rebuild abandoned: {error}; the read models are as they were.[/red]")
        raise typer.Exit(1) from None
    finally:
        stores.close()


@cli.command()
def seed(
    cases: Annotated[int, typer.Option(min=1, max=5_000_000, help="How many complaints")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same data")] = 1,
    until: Annotated[
        str | None, typer.Option(help="Last day of receipt, YYYY-MM-DD (default: today)")
    ] = None,
) -> None:
    """Lodge and progress realistic synthetic complaints through the application."""
    from datetime import date

    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    from api.app import build_complaints
    from api.cli.seed import seed as seed_complaints
    from domain.rules import local_date
    from domain.service import utc_now

    settings = load_settings()
    complaints = build_complaints(settings)
    now = utc_now()
    last_day = date.fromisoformat(until) if until else local_date(now)
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("seeding", total=cases)
            position = seed_complaints(
                complaints,
                cases=cases,
                seed_value=seed,
                until=min(last_day, local_date(now)),
                now=now,
                progress=lambda n: progress.advance(task, n),
            )
    finally:
        complaints.close()
    err.print(f"seeded {cases} complaints; the log is at position {position}")


@cli.command()
def verify(
    complaint: Annotated[
        str | None, typer.Option(help="Check one complaint (its id) instead of the whole log")
    ] = None,
) -> None:
    """Verify the hash chains offline; exits 1 when a chain is broken."""
    from uuid import UUID

    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    from api.app import build_complaints
    from api.integrity.verification import check_complaint, check_log
    from domain.errors import ComplaintNotFoundError

    settings = load_settings()
    complaints = build_complaints(settings)
    try:
        if complaint is not None:
            try:
                verdict = check_complaint(complaints, UUID(complaint))
            except (ValueError, ComplaintNotFoundError) as error:
                err.print(f"[red]{error}[/red]")
                raise typer.Exit(2) from None
            typer.echo(
                f"complaint {verdict.complaint_id}: {verdict.events} events, "
                f"{'valid' if verdict.valid else 'BROKEN'}; "
                f"first invalid version: {verdict.first_invalid_version}; "
                f"head hash: {verdict.head_hash}"
            )
            valid = verdict.valid
        else:
            columns = (
                *Progress.get_default_columns()[:-1],
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err) as progress:
                task = progress.add_task("verifying", total=complaints.head_position())
                log = check_log(complaints, progress=lambda n: progress.advance(task, n))
            typer.echo(
                f"log: {log.events_checked} events checked, {'valid' if log.valid else 'BROKEN'}; "
                f"first invalid position: {log.first_invalid_position}; "
                f"head position {log.head_position}, head hash "
                f"{log.head_hash.hex() if log.head_hash else None}"
            )
            valid = log.valid
    finally:
        complaints.close()
    if not valid:
        raise typer.Exit(1)


def main() -> None:
    from api.eventstore.keys import MasterKeyError

    try:
        cli()
    except MasterKeyError as error:
        typer.echo(f"complaints: {error}", err=True)
        raise SystemExit(2) from None
