"""The benchmark's code runs (at tiny sizes), so that `make bench` does not rot.

No figure is asserted against a target here: timings on a shared machine belong in the
benchmark's own output, never in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    assert set(results["figures"]) == {"seed", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"}
    assert results["machine"]["postgres"]["fsync"] == "on"
    assert results["figures"]["P2"]["large"]["events"] > results["figures"]["P2"]["small"]["events"]
    assert all(value is not None for value in results["ratios"].values()), results["ratios"]
    encryption = results["figures"]["P8"]
    measured = [f"{n}_{k}_ms" for n in ("lodge", "contact") for k in ("encrypted", "plain")]
    measured += ["read_plain_ms", "read_encrypted_warm_ms", "read_encrypted_cold_ms"]
    measured += [f"{n}_cost_ratio" for n in ("lodge", "contact", "read_warm", "read_cold")]
    assert all(encryption[name] > 0 for name in measured), encryption
    assert "P8_read_cold_keys_vs_plain" in done.stdout
    assert "P1_contact_vs_live" in done.stdout
    assert "raw figures:" in done.stdout
