"""Contract fuzzing that follows the document's links (OpenAPI "links", schemathesis stateful).

A tool that reads only `/openapi.json` must be able to lodge a valid complaint (the examples
give one the domain accepts) and carry it on through the links of each answer: assign, record
contact, resolve. Schemathesis drives the app that way with a supervisor's token, checking every
response against the document, and the test then asserts that each step of the lifecycle
succeeded at least once: a document without examples or links fails here.
"""

from __future__ import annotations

import copy
import os
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, cast

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import ASGIClient

from api.app import create_app
from api.settings import Settings
from tests.reliability.test_contract_fuzzing import CHECKS, DOCUMENT
from tests.support import JWT_SECRET, SUPERVISOR

SCENARIOS = int(os.environ.get("COMPLAINTS_FUZZ_SCENARIOS", 100))
LIFECYCLE = {
    "POST /complaints": 201,
    "POST /complaints/{complaint_id}/assign": 200,
    "POST /complaints/{complaint_id}/contacts": 200,
    "POST /complaints/{complaint_id}/resolve": 200,
}

# The lifecycle's commands, so that every step of a scenario is one of them (the records
# manager's commands and searches are POSTs too, but no lifecycle link leads to them).
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT)).include(
    method="POST",
    path_regex=r"^/complaints(/\{complaint_id\}/(redirect|assign|contacts|resolve))?$",
)
schema.config.generation.update(modes=[GenerationMode.POSITIVE])


class Lifecycle(schema.as_state_machine()):  # type: ignore[misc]
    """Each scenario runs against a new app on an empty database, with the supervisor's token.

    A new app per scenario keeps scenarios independent, as Hypothesis needs: on a shared one, a
    replayed scenario would meet the complaints and Idempotency-Keys of earlier ones.
    """

    folder: ClassVar[Path]
    succeeded: ClassVar[Counter[str]] = Counter()

    def setup(self) -> None:
        database = Path(tempfile.mkdtemp(dir=self.folder)) / "complaints.db"
        settings_ = Settings(_env_file=None, database_url=f"sqlite:///{database}")  # type: ignore[call-arg]
        app = create_app(settings_, jwt_secret=JWT_SECRET)
        self.started = TestClient(app)
        self.started.__enter__()
        self.client = ASGIClient(cast(Any, app))

    def teardown(self) -> None:
        self.started.__exit__(None, None, None)
        super().teardown()

    def before_call(self, case: schemathesis.Case[Any]) -> None:
        # A generated Idempotency-Key is often "0" for every request, and reusing a key for
        # another request is refused (tests/api/test_idempotency.py); a tool sends a new one.
        if case.headers and "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = str(uuid.uuid4())
        # A generated `occurred_at` is almost always before receipt or in the future (refused,
        # rightly); a tool recording a step as it happens leaves it out, so this one does too.
        if isinstance(case.body, dict):
            case.body.pop("occurred_at", None)

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
        return {"session": self.client, "headers": SUPERVISOR}

    def after_call(self, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
        super().after_call(response, case)
        label = f"{case.method.upper()} {case.path}"
        if LIFECYCLE.get(label) == response.status_code:
            Lifecycle.succeeded[label] += 1

    def validate_response(
        self,
        response: schemathesis.Response,
        case: schemathesis.Case[Any],
        additional_checks: Any = None,
        **kwargs: Any,
    ) -> None:
        case.validate_response(response, checks=CHECKS, recorder=self.recorder)


def test_links_carry_a_lodged_complaint_through_its_lifecycle(tmp_path: Path) -> None:
    # Given the document as served, when schemathesis follows its links from lodgings it makes
    Lifecycle.folder = tmp_path
    Lifecycle.succeeded.clear()
    Lifecycle.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            # A failure is reported as found: the scenarios are real requests, slow to shrink.
            phases=[Phase.generate],
        )
    )
    # then every response conformed (run raises otherwise), and each step succeeded at least once
    assert set(Lifecycle.succeeded) == set(LIFECYCLE), Lifecycle.succeeded
