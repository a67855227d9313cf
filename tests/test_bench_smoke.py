"""The benchmark's code runs (at tiny sizes), so that `make bench` does not rot.

No figure is asserted against a target here: timings on a shared machine belong in the
benchmark's own output, never in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
def test_bench_smoke_run_produces_every_figure_and_ratio(
    postgres_admin: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--mode", "smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=400,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
             "COMPLAINTS_BENCH_POSTGRES_URL": postgres_admin},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = list(tmp_path.glob("*-smoke.json"))
    results = json.loads(written.read_text())
    figures = results["figures"]
    assert set(figures) == {
        *("seed", "settle_seconds", "ceiling", "naive_peer"),
        *("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"),
    }
    assert results["machine"]["postgres"]["fsync"] == "on"
    assert figures["P2"]["large"]["events"] > figures["P2"]["small"]["events"]
    # Both databases settled (VACUUM ANALYZE, CHECKPOINT) after the seed and after the rebuild.
    settled = figures["settle_seconds"]
    assert set(settled) == {"seeded", "rebuilt"}
    assert all(settled[step][size] > 0 for step in settled for size in ("small", "large"))
    assert all(value is not None for value in results["ratios"].values()), results["ratios"]
    encryption = figures["P8"]
    measured = [f"{n}_{k}_ms" for n in ("lodge", "contact") for k in ("encrypted", "plain")]
    measured += ["read_plain_ms", "read_encrypted_warm_ms", "read_encrypted_cold_ms"]
    measured += [f"{n}_cost_ratio" for n in ("lodge", "contact", "read_warm", "read_cold")]
    assert all(encryption[name] > 0 for name in measured), encryption
    assert "P8_read_cold_keys_vs_plain" in done.stdout
    assert "P1_contact_vs_live" in done.stdout
    assert "raw figures:" in done.stdout
    assert_limits_measured(results, done.stdout)
    assert_statuses_counted(results, done.stdout)
    assert_cores_accounted(results, done.stdout)


def assert_cores_accounted(results: dict[str, Any], stdout: str) -> None:
    """Each load run on the product and the peer says what its requests cost in CPU, by process."""
    figures = results["figures"]
    runs = [figures["P1"]["record_contact"], figures["P4"]["complaint"]]
    runs += [figures["P5"]["large"]["case_list"], figures["naive_peer"]["record_contact"]]
    assert figures["ceiling"]["at_32"]["extra"]["cpu"]["api_ms"] > 0
    for run in runs:
        cpu = run["extra"]["cpu"]
        assert cpu["api_ms"] > 0, cpu  # the server's workers answered every one
        assert cpu["total_ms"] >= cpu["api_ms"] + cpu["postgres_ms"], cpu
        assert cpu["cores_busy"] > 0, cpu
    assert figures["P1"]["record_contact"]["extra"]["cpu"]["postgres_ms"] > 0  # it writes
    assert "CPU per request answered" in stdout


def assert_limits_measured(results: dict[str, Any], stdout: str) -> None:
    """The bare ceiling and the naive peer ran, served as the product is, with their ratios."""
    figures = results["figures"]
    ceiling, peer = figures["ceiling"], figures["naive_peer"]
    assert ceiling["served_as"]["options"]["workers"] == 2, ceiling["served_as"]
    for run in (ceiling["at_32"], ceiling["sequential"], peer["record_contact"]):
        assert run["requests"] > 0, run
        assert run["per_s"] > 0, run
        assert run["p50_ms"] > 0, run
    assert ceiling["at_32"]["connections"] == 32
    assert ceiling["sequential"]["connections"] == 1
    assert peer["cases"] == 2000
    assert peer["record_contact"]["connections"] == 32
    assert figures["P1"]["contact_targets"] == 2000
    new = ["P1_contact_vs_naive", "P1_contact_vs_ceiling", "P4_vs_ceiling_p50"]
    new += [f"P5_{n}_vs_ceiling_p50" for n in ("learning", "timeliness", "caseload", "case_list")]
    for name in new:
        assert results["ratios"][name] > 0, name
        assert name in stdout
    assert "bare ceiling" in stdout
    assert "naive peer" in stdout


def load_runs(tree: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every load run in the figures (a dict with `statuses`), by its dotted path."""
    found = {prefix: tree} if "statuses" in tree else {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= load_runs(value, f"{prefix}.{key}" if prefix else key)
    return found


def assert_statuses_counted(results: dict[str, Any], stdout: str) -> None:
    """Every load run counted its answers by status code, and the report lists the non-2xx."""
    runs = load_runs(results["figures"])
    expected = {"ceiling.at_32", "ceiling.sequential", "naive_peer.record_contact"}
    expected |= {"P1.record_contact", "P1.lodge", "P3", "P4.complaint", "P5.large.caseload"}
    assert expected <= set(runs), sorted(runs)
    for name, run in runs.items():
        assert sum(run["statuses"].values()) > 0, name
        if "requests" in run:  # answers of every status; transport failures not among them
            counted = sum(n for code, n in run["statuses"].items() if not code.startswith("e"))
            assert counted == run["requests"], (name, run["statuses"], run["requests"])
        for code in run["statuses"]:
            if not code.startswith("2"):
                assert results["non_2xx"][name][code] == run["statuses"][code]
                assert code.startswith("error:") or code in run.get("samples", {code: ""})
    assert set(results["non_2xx"]) == set(runs)
    assert "non-2xx answers, by status code" in stdout
