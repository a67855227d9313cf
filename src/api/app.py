"""The composition root: builds the application service and the HTTP app around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.access_log import AccessLog
from api.idempotency import IdempotencyKeys
from api.limits import BodySizeLimit
from api.observability import RequestObserver, configure_logging
from api.problems import install_problem_handlers
from api.read_models import ReadModels
from api.references import reference_numbers_for
from api.routes import audit, commands, complaints, health
from api.routes import read_models as read_model_routes
from api.settings import Settings
from domain.service import Clock, Complaints, utc_now


def build_complaints(settings: Settings, *, clock: Clock = utc_now) -> Complaints:
    """The one application service of a process (the API, the CLI and the tests share it)."""
    return Complaints(
        env=settings.eventsourcing_env, reference_numbers=reference_numbers_for, clock=clock
    )


def create_app(settings: Settings, *, jwt_secret: str, clock: Clock = utc_now) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        complaints = build_complaints(settings, clock=clock)
        read_models = ReadModels(settings, complaints)
        if settings.projection_mode == "embedded":
            read_models.start_embedded()
        app.state.complaints = complaints
        app.state.read_models = read_models
        app.state.read_model_status = read_models.status
        app.state.idempotency = IdempotencyKeys(read_models.store)
        app.state.access_log = AccessLog(read_models.store)
        try:
            yield
        finally:
            read_models.close()
            complaints.close()

    app = FastAPI(
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
    app.include_router(commands.router)
    app.include_router(read_model_routes.router)
    app.include_router(complaints.router)
    app.include_router(audit.router)
    app.include_router(health.router)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory `complaints serve` hands to uvicorn, in every worker process."""
    configure_logging()
    settings = Settings()
    if settings.jwt_secret is None:
        raise SystemExit("COMPLAINTS_JWT_SECRET is not set")
    return create_app(settings, jwt_secret=settings.jwt_secret.get_secret_value())
