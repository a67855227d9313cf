"""What `bench/run.py` prints: the ratios against their targets, and every non-2xx answer.

Targets are printed, never asserted: this machine is shared, so a ratio is judged by a reader.
Every load run's answers are counted by status code; each code that is not 2xx is listed with
the first body it came with, and a 5xx is flagged as a defect with the server's log kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TARGETS: dict[str, tuple[str, float]] = {
    "P1_contact_vs_live": (">=", 0.30),
    "P1_contact_vs_naive": (">=", 4.0),
    "P1_contact_vs_ceiling": (">=", 0.15),
    "P2_rebuild_vs_raw_read": (">=", 0.30),
    "P2_rss_large_vs_small": ("<=", 1.5),
    "P3_p99_ms": ("<", 50.0),
    "P4_complaint_p50_vs_live": ("<=", 2.0),
    "P4_as_of_p50_vs_live": ("<=", 2.0),
    "P4_vs_ceiling_p50": ("<=", 2.0),
    "P4_as_of_vs_ceiling_p50": ("<=", 2.0),
    "P6_rss_after_vs_start": ("<=", 1.5),
}


def rule(name: str) -> tuple[str, float] | None:
    if name in TARGETS:
        return TARGETS[name]
    if name.startswith("P5_") and name.endswith(("_vs_live", "_vs_ceiling_p50")):
        return ("<=", 3.0)
    if name.startswith("P5_"):
        return ("<=", 1.5)
    return None


def verdict(name: str, value: float | None) -> str:
    found = rule(name)
    if found is None or value is None:
        return ""
    op, limit = found
    met = value >= limit if op == ">=" else value <= limit if op == "<=" else value < limit
    return f"{'met' if met else 'NOT met'} ({op} {limit})"


def load_runs(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every load run in the figures (a dict with `statuses`), named by its path."""
    if "statuses" in tree:
        yield prefix, tree
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from load_runs(value, f"{prefix}.{key}" if prefix else key)


def non_2xx(figures: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Each load run's answers that were not 2xx (and transport failures), by code."""
    return {
        name: {code: n for code, n in run["statuses"].items() if not code.startswith("2")}
        for name, run in load_runs(figures)
    }


def print_ratios(ratios: dict[str, float | None]) -> None:
    print(f"{'figure':<40} {'value':>12}  target")
    for name, value in ratios.items():
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"{name:<40} {shown:>12}  {verdict(name, value)}")


def print_limits(figures: dict[str, Any]) -> None:
    """The limits beside the product: the bare ceiling, with its sanity check, and the peer."""
    ceiling, naive = figures["ceiling"], figures["naive_peer"]["record_contact"]
    at_32, sequential = ceiling["at_32"], ceiling["sequential"]
    served = ceiling["served_as"]
    print(
        f"bare ceiling ({served['server']}, {ceiling['workers']} workers, {served['http']}; "
        f"load from {at_32['tool']}): "
        f"{at_32['per_s']:.0f} req/s at 32 connections (p50 {at_32['p50_ms']:.2f} ms); "
        f"sequential {sequential['per_s']:.0f} req/s (p50 {sequential['p50_ms']:.2f} ms)"
    )
    if not ceiling["sequential_sane"]:
        print(
            "WARNING: sequential requests to the bare app are not in the thousands per second: "
            "a ~40 ms p50 there is Nagle + delayed ACK (TCP_NODELAY); the ratios are suspect"
        )
    print(
        f"naive peer: {naive['ok_per_s']:.0f} contacts/s at {naive['connections']} connections "
        f"(p50 {naive['p50_ms']:.1f} ms) on {figures['naive_peer']['cases']} cases"
    )


def print_non_2xx(figures: dict[str, Any]) -> None:
    runs = dict(load_runs(figures))
    print(f"non-2xx answers, by status code, in {len(runs)} load runs:")
    clean = 0
    for name, run in runs.items():
        codes = {code: n for code, n in run["statuses"].items() if not code.startswith("2")}
        if not codes:
            clean += 1
            continue
        total = sum(run["statuses"].values())
        for code, n in codes.items():
            defect = "  DEFECT (5xx under load)" if code.startswith("5") else ""
            body = " ".join(run.get("samples", {}).get(code, "").split())[:120]
            print(f"  {name:<32} {code:>14} x {n:<6} of {total:<7} {body}{defect}")
        if "server_log" in run.get("extra", {}):
            print(f"  {name}: the server's log, last lines:")
            for line in run["extra"]["server_log"].splitlines()[-12:]:
                print(f"    {line}")
    print(f"  every answer 2xx in {clean} of them")


def print_cpu(figures: dict[str, Any]) -> None:
    """Where the cores went in each load run: CPU per request answered, by process."""
    print("CPU per request answered, in ms (api: the server's workers), and the cores kept busy:")
    for name, run in load_runs(figures):
        cpu = run.get("extra", {}).get("cpu")
        if cpu is None:
            continue
        parts = [
            f"{key.removesuffix('_ms')} {value:.2f}"
            for key, value in cpu.items()
            if key.endswith("_ms") and key != "total_ms"
        ]
        shares = ", ".join(parts)
        print(f"  {name:<32} {cpu['total_ms']:6.2f} ({shares}); {cpu['cores_busy']:.2f} cores")
