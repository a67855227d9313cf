"""The `complaints` command: serve the API and mint development tokens."""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from api.auth import Role, mint_token
from api.settings import Settings

cli = typer.Typer(help="Complaints Casework", no_args_is_help=True, add_completion=False)
err = Console(stderr=True)


def load_settings() -> Settings:
    """Settings, or one clear line and exit status 2 when a value is bad."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"COMPLAINTS_{'_'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in error.errors()
        )
        err.print(f"[red]Invalid settings:[/red] {problems}")
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    settings = load_settings()
    if settings.jwt_secret is None:
        # Every worker inherits the environment, so they all verify with the same key.
        secret = secrets.token_urlsafe(32)
        os.environ["COMPLAINTS_JWT_SECRET"] = secret
        err.print(
            "[yellow]COMPLAINTS_JWT_SECRET is not set: generated one for local use only:[/yellow]\n"
            f"  export COMPLAINTS_JWT_SECRET={secret}\n"
            "Then mint a token, for example:\n"
            f"  COMPLAINTS_JWT_SECRET={secret} complaints token --sub sup-0001 "
            '--name "DI Grace Hopper" --role supervisor'
        )
    uvicorn.run(
        "api.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,
    )


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


def main() -> None:
    cli()
