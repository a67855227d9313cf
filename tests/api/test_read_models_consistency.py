"""The consistency token on every read model: `min_position`, `wait_ms`, `X-Projection-Position`."""

from __future__ import annotations

import time

import pytest

from tests.projections.plans import NOW, generate, play_http
from tests.projections.scenes import Api, api_fixture
from tests.support import ANALYST, CASEWORKER, INTAKE, SUPERVISOR, assert_problem, head_position

api = api_fixture()

# Every read-model endpoint, with a caller allowed to read it.
READS = [
    pytest.param("/complaints", CASEWORKER, {}, id="case-list"),
    pytest.param("/complaints", ANALYST, {}, id="case-list-analyst"),
    pytest.param("/caseload", SUPERVISOR, {}, id="caseload"),
    pytest.param("/caseload/inv-nobody", SUPERVISOR, {}, id="one-caseload"),
    pytest.param("/statistics/learning", ANALYST, {}, id="learning"),
    pytest.param("/statistics/learning", ANALYST, {"Accept": "text/csv"}, id="learning-csv"),
    pytest.param("/statistics/timeliness", ANALYST, {}, id="timeliness"),
    pytest.param("/statistics/timeliness", ANALYST, {"Accept": "text/csv"}, id="timeliness-csv"),
]


@pytest.fixture(scope="module")
def position(api: Api) -> int:
    return play_http(api.client, generate(6, seed=5, earliest=NOW.replace(day=1)))


@pytest.mark.parametrize(("path", "headers", "extra"), READS)
def test_every_read_model_answer_says_which_position_it_reflects(
    api: Api, position: int, path: str, headers: dict[str, str], extra: dict[str, str]
) -> None:
    plain = api.client.get(path, headers=headers | extra)
    waited = api.client.get(path, params={"min_position": position}, headers=headers | extra)

    for response in (plain, waited):
        assert response.status_code == 200, response.text
        assert 0 <= int(response.headers["X-Projection-Position"]) <= head_position(api.client)
    assert int(waited.headers["X-Projection-Position"]) >= position


def test_a_command_is_visible_to_a_read_that_passes_its_position(api: Api, position: int) -> None:
    for n in range(5):
        lodged = api.client.post("/complaints", json=_body(n), headers=INTAKE)
        assert lodged.status_code == 201, lodged.text
        token = lodged.json()["position"]
        page = api.client.get("/complaints", params={"min_position": token}, headers=CASEWORKER)
        assert page.status_code == 200, page.text
        assert lodged.json()["complaint_id"] in {
            item["complaint_id"] for item in page.json()["items"]
        }
        learning = api.client.get(
            "/statistics/learning", params={"min_position": token}, headers=ANALYST
        )
        assert int(learning.headers["X-Projection-Position"]) >= token


def _body(n: int) -> dict[str, object]:
    plan = generate(1, seed=100 + n, earliest=NOW.replace(day=2))[0]
    return plan.body


@pytest.mark.parametrize(("path", "headers", "extra"), READS)
def test_a_position_beyond_the_head_is_a_503_with_retry_after(
    api: Api, position: int, path: str, headers: dict[str, str], extra: dict[str, str]
) -> None:
    beyond = head_position(api.client) + 1000
    started = time.monotonic()
    response = api.client.get(
        path, params={"min_position": beyond, "wait_ms": 50}, headers=headers | extra
    )
    elapsed = time.monotonic() - started

    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 0
    assert 0.05 <= elapsed < 2.0
    assert int(response.headers["X-Projection-Position"]) < beyond


@pytest.mark.parametrize(
    "params",
    [
        {"wait_ms": "10001"},
        {"wait_ms": "-1"},
        {"min_position": "-1"},
        {"min_position": "soon"},
    ],
)
@pytest.mark.parametrize("path", ["/complaints", "/statistics/learning", "/statistics/timeliness"])
def test_consistency_parameters_out_of_range_are_refused(
    api: Api, path: str, params: dict[str, str]
) -> None:
    assert_problem(api.client.get(path, params=params, headers=SUPERVISOR), 422)
