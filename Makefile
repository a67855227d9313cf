# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-long lint typecheck pytest bench bench-quick profile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## serve the API on SQLite at 127.0.0.1:8000 (HOST=, PORT= to change), read models included
	$(BIN)/complaints serve --host $(HOST) --port $(PORT)

test: lint typecheck pytest  ## ruff, ruff format --check, mypy and pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers: most tests wait on PostgreSQL, fsync or a server they started, so two share the
# machine's two cores well (13.5 minutes instead of 18 on 2026-12-07); each test has databases
# and ports of its own. The few that compare timings (marked `alone`) run after, by themselves:
# a neighbour's load skews one side of a comparison. TEST_WORKERS=0 runs the rest in one process.
TEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not alone"
	$(BIN)/pytest -q -m alone

FUZZ_EXAMPLES ?= 1000
FUZZ_SCENARIOS ?= 500
test-long: $(STAMP)  ## the contract fuzzers at length: FUZZ_EXAMPLES per operation and role, FUZZ_SCENARIOS stateful
	COMPLAINTS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) COMPLAINTS_FUZZ_SCENARIOS=$(FUZZ_SCENARIOS) \
		$(BIN)/pytest -q tests/reliability/test_contract_fuzzing.py tests/reliability/test_contract_workflows.py

bench: $(STAMP)  ## the whole benchmark suite on the local PostgreSQL (about 10 minutes)
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || echo "no wrk: using the Python load generator"
	$(BIN)/python bench/run.py --mode full

profile: $(STAMP)  ## where a command's time goes: py-spy on one API worker under P1's load
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || echo "no wrk: using the Python load generator"
	$(BIN)/python bench/profile.py

bench-quick: $(STAMP)  ## a smaller run (about 3 minutes)
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || echo "no wrk: using the Python load generator"
	$(BIN)/python bench/run.py --mode quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
