"""`complaints keys`: the master key's life (docs/DOMAIN.md part C; api.eventstore.rotation).

`rotate-master` re-wraps every live data key under a new master key, so that wrapped keys left
in the WAL, in dead rows or in backups are useless once the old key is thrown away. It opens
the event store without the key ring: the ring refuses to start while rows are under two
keys, which is exactly the state an interrupted rotation leaves, and running the command again
(same current key, same new key) is how that state is finished.

Where the new key goes:
- an SQLite store on its development key file (no COMPLAINTS_MASTER_KEY): the new key is first
  written beside it (`<file>.new`), so an interrupted run resumes with it, then moved over the
  file with `os.replace` (atomic, mode 0600);
- otherwise the operator sets COMPLAINTS_MASTER_KEY to it and restarts every process; a key
  generated here is printed once, before any row changes, so that an interruption cannot lose
  it (run again with it in `--new-key-file` to finish).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

from api.eventstore.keys import (
    MasterKey,
    MasterKeyError,
    decode_master_key,
    development_key_path,
    new_master_key_text,
)
from api.settings import Settings

if TYPE_CHECKING:
    from domain.service import Complaints

keys = typer.Typer(help="The master key of the data keys", no_args_is_help=True)
err = Console(stderr=True)


@keys.command("rotate-master")
def rotate_master(
    new_key_file: Annotated[
        Path | None,
        typer.Option(help="File holding the new master key (base64); generated when not given"),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Keys per transaction")] = 1000,
) -> None:
    """Re-wrap every data key under a new master key (run it again to finish an interrupted one)."""
    from api.app import master_key_for
    from api.cli.commands import load_settings

    settings = load_settings()
    old = master_key_for(settings)
    given = None if new_key_file is None else _read_key_file(new_key_file)
    development = development_key_path(settings.sqlite_path) if _on_key_file(settings) else None
    if development is not None:
        new_text = _staged_key(development, given)
    else:
        new_text = given or _announce_generated()
    new = MasterKey(decode_master_key(new_text, source="the new master key"))
    if new.id == old.id:
        raise MasterKeyError("the new master key is the current one: give another")
    count = _rewrap(settings, old, new, batch)
    err.print(f"re-wrapped {count} data keys under the master key {new.id}")
    if development is not None:
        _replace_atomically(_staging_path(development), development)
        err.print(
            f"{development} now holds the new master key (id {new.id}): restart any process "
            "using this database (it still holds the old key).",
            soft_wrap=True,
        )
        return
    err.print(
        f"Set COMPLAINTS_MASTER_KEY to the new master key (id {new.id}) and restart every "
        "process (API, projectors): until then they run on the old key. Then destroy the old "
        "key: it is useless for copies left in the WAL or in backups only once it is gone.",
        soft_wrap=True,
    )


def _on_key_file(settings: Settings) -> bool:
    return settings.master_key is None and not settings.is_postgres


def _read_key_file(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError as error:
        raise MasterKeyError(f"cannot read the new master key from {path}: {error}") from None
    decode_master_key(text, source=str(path))  # refused before anything changes
    return text.strip()


def _announce_generated() -> str:
    text = new_master_key_text()
    # On stdout, once, before any row is re-wrapped under it.
    typer.echo(f"New master key (generated, shown once; keep it in your key store): {text}")
    err.print("If this run is interrupted, run it again with the key above in --new-key-file.")
    return text


def _staging_path(development: Path) -> Path:
    return development.with_name(development.name + ".new")


def _staged_key(development: Path, given: str | None) -> str:
    """The new key, kept beside the development key file until the rotation is done."""
    staging = _staging_path(development)
    if staging.exists():
        staged = staging.read_text().strip()
        decode_master_key(staged, source=str(staging))
        if given is not None and given != staged:
            raise MasterKeyError(
                f"a rotation to the key in {staging} is unfinished: run `complaints keys "
                "rotate-master` without --new-key-file to finish it first"
            )
        err.print(f"finishing the rotation to the key in {staging}")
        return staged
    text = given or new_master_key_text()
    temporary = staging.with_name(staging.name + ".tmp")
    _write_private(temporary, text)
    _replace_atomically(temporary, staging)
    return text


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(path, 0o600)  # an older file of that name may have had other modes


def _replace_atomically(source: Path, target: Path) -> None:
    """`source` becomes `target` in one step (never half a key), durable once it returns."""
    os.replace(source, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _rewrap(settings: Settings, old: MasterKey, new: MasterKey, batch: int) -> int:
    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    from api.eventstore.rotation import rewrap_all

    complaints = _open_without_keys(settings)
    datastore = cast(Any, complaints.recorder).datastore  # both recorders have one
    dialect = "postgres" if settings.is_postgres else "sqlite"
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("re-wrapping data keys", total=None)
            count = rewrap_all(
                datastore,
                dialect,
                old,
                new,
                batch=batch,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        # A process still on the old key may have written keys behind the pass: catch them
        # until a pass finds none (those written after this command are for a rerun).
        while again := rewrap_all(datastore, dialect, old, new, batch=batch):
            count += again
        return count
    finally:
        complaints.close()


def _open_without_keys(settings: Settings) -> Complaints:
    """The event store (with its tables), without the key ring's start-up check."""
    from api.eventstore.references import reference_numbers_for
    from api.eventstore.schema import schema_guard
    from domain.service import Complaints

    with schema_guard(settings):
        return Complaints(env=settings.eventsourcing_env, reference_numbers=reference_numbers_for)
