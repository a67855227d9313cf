"""The composition root: builds the application service and the HTTP app around it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

from eventsourcing.postgres import PostgresDatastore
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import heap
from api.eventstore.idempotency import IdempotencyKeys
from api.eventstore.keys import (
    MASTER_SETTING,
    MasterKey,
    MasterKeyError,
    decode_master_key,
    development_master_key,
)
from api.eventstore.references import reference_numbers_for
from api.eventstore.schema import schema_guard
from api.eventstore.sealing import KeyRing
from api.eventstore.status_attempts import StatusAttempts
from api.feed import ChangeFeed
from api.http.limits import BodySizeLimit
from api.http.observability import RequestObserver, configure_logging
from api.http.problems import index_methods, install_problem_handlers
from api.http.routes import audit, commands, complaints, health, records, status, supervision
from api.http.routes import dashboard as dashboard_routes
from api.http.routes import feed as feed_routes
from api.http.routes import read_models as read_model_routes
from api.integrity.access_log import AccessLog
from api.read_models import ReadModels
from api.settings import Settings, get_settings
from domain.service import Clock, Complaints, utc_now
from projections.store import check_when_idle


def master_key_for(settings: Settings) -> MasterKey:
    """The master key of the settings; on SQLite without one, the development key."""
    if settings.master_key is not None:
        return MasterKey(decode_master_key(settings.master_key.get_secret_value()))
    if settings.is_postgres:
        raise MasterKeyError(
            f"{MASTER_SETTING} is not set: with PostgreSQL the master key (32 bytes, base64, "
            "from your key store) must be given"
        )
    return MasterKey(development_master_key(settings.sqlite_path))


def build_complaints(settings: Settings, *, clock: Clock = utc_now) -> Complaints:
    """The one application service of a process (the API, the CLI and the tests share it)."""
    keys = KeyRing(master_key_for(settings))
    with schema_guard(settings):
        complaints = Complaints(
            env=settings.eventsourcing_env,
            reference_numbers=reference_numbers_for,
            clock=clock,
            earliest_receipt=settings.earliest_receipt,
            sealer=keys,
            retention_years=settings.retention_years,
            update_every_days=settings.update_every_days,
        )
        keys.attach(complaints.recorder)
        keys.also_forget(complaints.forget_replayed)
    datastore = getattr(complaints.recorder, "datastore", None)
    if isinstance(datastore, PostgresDatastore):
        check_when_idle(datastore.pool)
    return complaints


@dataclass
class Stores:
    complaints: Complaints
    read_models: ReadModels
    idempotency: IdempotencyKeys
    access_log: AccessLog
    status_attempts: StatusAttempts

    @property
    def keys(self) -> KeyRing:
        return cast(KeyRing, self.complaints.sealer)

    def close(self) -> None:
        self.keys.close()
        self.idempotency.close()
        self.status_attempts.close()
        self.access_log.close()
        self.read_models.close()
        self.complaints.close()


def open_stores(settings: Settings, *, clock: Clock = utc_now) -> Stores:
    """Everything a process keeps in the database, with its tables in place."""
    complaints = build_complaints(settings, clock=clock)
    with schema_guard(settings):
        read_models = ReadModels(settings, complaints)
        return Stores(
            complaints=complaints,
            read_models=read_models,
            idempotency=IdempotencyKeys(read_models.store),
            access_log=AccessLog(read_models.store),
            status_attempts=StatusAttempts(read_models.store, clock=clock),
        )


def create_app(
    settings: Settings, *, jwt_secret: str, clock: Clock = utc_now, settle_heap: bool = False
) -> FastAPI:
    """The HTTP app; `settle_heap` in a process that serves it alone (`api.heap`), never in one
    that builds many apps, such as the tests', whose frozen objects would never be freed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            stores = open_stores(settings, clock=clock)
        except MasterKeyError as error:
            logging.getLogger("complaints.api").critical("%s", error)
            raise SystemExit(2) from None
        stores.keys.follow_erasures()
        if settings.projection_mode == "embedded":
            stores.read_models.start_embedded()
        stores.idempotency.start_forgetting()
        stores.status_attempts.start_forgetting()
        feed = ChangeFeed.for_settings(settings, stores.complaints)
        feed.start()
        app.state.feed = feed
        app.state.complaints = stores.complaints
        app.state.read_models = stores.read_models
        app.state.idempotency = stores.idempotency
        app.state.access_log = stores.access_log
        app.state.status_attempts = stores.status_attempts
        app.state.keys = stores.keys
        if settle_heap:  # start-up is done: what it built is never walked by the collector again
            heap.settle()
        try:
            yield
        finally:
            feed.close()  # ends the streams and the follower before the stores close
            stores.close()

    # The docs pages load their scripts from this server, so /docs works with no internet.
    app = FastAPIOffline(
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        title="Complaints Casework",
        version="0.1.0",
        summary="Event-sourced case management for a police force's complaints team",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jwt_secret = jwt_secret
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestObserver)
    routers = [
        commands.router,
        read_model_routes.router,
        complaints.router,
        audit.router,
        records.router,
        supervision.router,
        feed_routes.router,
        status.router,
        dashboard_routes.router,
        health.router,
    ]
    for router in routers:
        app.include_router(router)
    # First, so that the hot reads they serve are found before any router is asked.
    app.router.routes[:0] = complaints.PLAIN_ROUTES
    app.state.methods = index_methods(routers)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory `complaints serve` hands to uvicorn, in every worker process."""
    configure_logging()
    settings = get_settings()
    if settings.jwt_secret is None:
        raise SystemExit("COMPLAINTS_JWT_SECRET is not set")
    secret = settings.jwt_secret.get_secret_value()
    return create_app(settings, jwt_secret=secret, settle_heap=True)
