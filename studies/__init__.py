"""The face of delaylab: study specs, the runner, tidy results, comparisons, reports and the CLI.

    from studies import run_study, list_studies, get_study, report
    res = run_study("ch3-gap", quick=True, out="reports/ch3-gap-quick")
    res.to_frame(); res.summary(); report(res.out)

Imports run one way: studies -> {sim, algorithms, bounds}; nothing imports studies.
"""
from .registry import get_study, list_studies, register
from .report import report
from .results import RunResult, StudyResults, load_results
from .runner import run_study
from .spec import AlgorithmSpec, BudgetSpec, Claim, ClusterSpec, DatasetSpec, StudySpec, Target

__all__ = ["run_study", "get_study", "list_studies", "register", "report", "load_results", "RunResult",
           "StudyResults", "StudySpec", "AlgorithmSpec", "DatasetSpec", "ClusterSpec", "BudgetSpec", "Target",
           "Claim"]
