"""The face of delaylab: study specs, the runner, tidy results, comparisons, reports and the CLI.

    from studies import run_study, list_studies, get_study, report
    res = run_study("ch3-gap", quick=True, out="reports/ch3-gap-quick")
    res.to_frame(); res.summary(); report(res.out)

Imports run one way: studies -> {sim, algorithms, bounds}; nothing imports studies.

The names below are imported on first use (a module ``__getattr__``), so that ``import studies``
(every CLI command) loads neither pandas nor matplotlib nor sympy before it needs them.
"""
from __future__ import annotations

import importlib

#: public name -> the submodule that defines it
_LAZY = {
    "get_study": "registry", "list_studies": "registry", "register": "registry",
    "report": "report",
    "RunResult": "results", "StudyResults": "results", "load_results": "results",
    "run_study": "runner",
    **{name: "spec" for name in ("AlgorithmSpec", "BudgetSpec", "Claim", "ClusterSpec", "DatasetSpec",
                                 "StudySpec", "Target")},
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'studies' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"studies.{module}"), name)
    if name != "report":  # studies.report is also the submodule: keep the function under the name
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["run_study", "get_study", "list_studies", "register", "report", "load_results", "RunResult",
           "StudyResults", "StudySpec", "AlgorithmSpec", "DatasetSpec", "ClusterSpec", "BudgetSpec", "Target",
           "Claim"]
