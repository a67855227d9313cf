"""Settings from the environment (and `.env`), as docs/API.md "Settings" lists them.

Nothing else in the product reads `os.environ` (`complaints serve` only writes to it, for its
worker processes to inherit): this module turns the settings into the
`eventsourcing` library's environment and everything else takes a `Settings` object.
"""

from __future__ import annotations

from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COMPLAINTS_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    database_url: str = "sqlite:///./var/complaints.db"
    # Receipts before this day are refused: references carry the year in two digits.
    earliest_receipt: date = date(2000, 1, 1)
    # Connections the read models keep to PostgreSQL, per process.
    read_pool_size: int = Field(default=8, ge=1, le=200)
    jwt_secret: SecretStr | None = None
    # The key-encryption key of every complaint's data keys: 32 bytes, base64. Unset, an SQLite
    # store makes a development key beside its file; PostgreSQL refuses to start.
    master_key: SecretStr | None = None
    # A final complaint is due for retention review this many years after it became final.
    retention_years: int = Field(default=6, ge=1, le=100)
    projections: Literal["embedded", "external"] | None = None
    first_contact_due_days: int = Field(default=5, ge=1, le=365)
    resolution_due_days: int = Field(default=20, ge=1, le=3650)
    # Rule 17: calendar days between progress updates to a complainant under Schedule 3.
    update_every_days: int = Field(default=28, ge=1, le=365)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    postgres_pool_size: int = Field(default=10, ge=1, le=200)
    postgres_max_overflow: int = Field(default=20, ge=0, le=200)
    # prometheus-client's own variable, unprefixed: where the workers of one server share their
    # counters (`complaints serve --workers N` sets it for them when it is unset).
    prometheus_multiproc_dir: str | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR"
    )
    # How long a request waits for the database before it is answered 503, in seconds.
    database_timeout: int = Field(default=5, ge=1, le=60)
    # Complaints kept replayed per process (0: none), each brought up to date from the log on
    # every read (`domain.replayed`): a read or a command then decodes only the events
    # recorded since, not the complaint's whole history.
    complaint_cache_size: int = Field(default=2048, ge=0, le=100_000)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if scheme == "sqlite" and not value.startswith("sqlite:///"):
            raise ValueError("an SQLite URL is sqlite:///relative/path or sqlite:////absolute")
        if scheme == "sqlite" and value.removeprefix("sqlite:///") in (":memory:", ""):
            # Each connection would get an empty database of its own: events written by the
            # API would be invisible to the read models, and to the next request.
            raise ValueError("an in-memory SQLite database cannot be shared; name a file")
        return value

    @property
    def is_postgres(self) -> bool:
        return not self.database_url.startswith("sqlite:")

    @property
    def projection_mode(self) -> Literal["embedded", "external"]:
        if self.projections is not None:
            return self.projections
        return "external" if self.is_postgres else "embedded"

    @property
    def sqlite_path(self) -> str:
        return self.database_url.removeprefix("sqlite:///")

    def prepare_sqlite_folder(self) -> None:
        """Creates the folder of the SQLite file (`./var` by default) if it is not there yet."""
        if not self.is_postgres:
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)

    @cached_property
    def eventsourcing_env(self) -> dict[str, str]:
        """The `eventsourcing` library's configuration for the event store."""
        return {**self._store_env, **self._cache_env}

    @property
    def _cache_env(self) -> dict[str, str]:
        if self.complaint_cache_size == 0:  # the library would read 0 as "unbounded"
            return {}
        return {"AGGREGATE_CACHE_MAXSIZE": str(self.complaint_cache_size)}

    @property
    def _store_env(self) -> dict[str, str]:
        if not self.is_postgres:
            path = self.sqlite_path
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "APPLICATION_RECORDER_TOPIC": "api.eventstore.recorders:ChainedSQLiteRecorder",
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": str(self.database_timeout),
            }
        url = urlsplit(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "api.eventstore.recorders:ChainedPostgresRecorder",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": url.hostname or "localhost",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.postgres_max_overflow),
            "POSTGRES_CONNECT_TIMEOUT": str(self.database_timeout),
            "POSTGRES_LOCK_TIMEOUT": str(self.database_timeout),
            "POSTGRES_PRE_PING": "n",  # see projections.store.check_when_idle
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        }

    def postgres_conninfo(self) -> str:
        env = self.eventsourcing_env
        return make_conninfo(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=self.database_timeout,
        )


@cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
