"""Every read model the product keeps, by name."""

from __future__ import annotations

from projections.base import Projection
from projections.case_list.projection import CaseList
from projections.early_warning import EarlyWarning
from projections.learning import LearningStatistics
from projections.retention import RetentionSchedule
from projections.timeliness import TimelinessStatistics

PROJECTIONS: dict[str, type[Projection]] = {
    projection.name: projection
    for projection in (
        CaseList,
        LearningStatistics,
        TimelinessStatistics,
        RetentionSchedule,
        EarlyWarning,
    )
}
