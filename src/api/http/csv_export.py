"""CSV forms of the statistics, for `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import Request

from projections.learning import DIMENSIONS
from projections.timeliness import MEASURES, STATUTORY_MEASURES


def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept.lower()


def learning_csv(figures: dict[str, Any]) -> str:
    """One row per dimension and value: `dimension,value,count`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dimension", "value", "count"])
    writer.writerow(["total", "all", figures["total"]])
    writer.writerow(["late", "true", figures["late"]])
    for dimension in DIMENSIONS:
        for value, count in sorted(figures[dimension].items()):
            writer.writerow([dimension, value, count])
    return out.getvalue()


def timeliness_csv(figures: dict[str, Any]) -> str:
    """One row per measure."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    units = ("working_days", "calendar_days")
    stats = ("mean", "median", "p90")
    writer.writerow(["measure", "count", *(f"{u}_{s}" for u in units for s in stats)])
    # Schedule 3's measure is a row once a case in range has it, so that a force working only
    # outside Schedule 3 gets the file it always had.
    shown = [*MEASURES, *(m for m in STATUTORY_MEASURES if figures.get(m, {}).get("count"))]
    for measure in shown:
        row = figures[measure]
        writer.writerow(
            [
                measure,
                row["count"],
                *("" if row[u][s] is None else row[u][s] for u in units for s in stats),
            ]
        )
    return out.getvalue()
