"""Time only: cluster models, simpy drivers, traces, replay and staleness statistics.

Imports from ``algorithms`` only the seam ``algorithms.roles`` (ARCHITECTURE.md).
"""
from sim.cluster import (
    Cluster,
    ClusterClock,
    ConstantSpeed,
    Distribution,
    ExponentialSpeed,
    FailRecover,
    IndependentStraggler,
    LogNormalSpeed,
    Network,
    PersistentSlow,
    ShiftedExponentialSpeed,
    StragglerModel,
    ThesisStraggler,
    UniformDistribution,
    WorkerSpec,
    timing_streams,
)
from sim.driver import Budget, SimResult, simulate
from sim.records import EveryMessages, Geometric, NearTarget, RecordSchedule
from sim.replay import replay
from sim.trace import StalenessStats, Trace, WorkerStaleness, staleness_stats

__all__ = [
    "Budget", "Cluster", "ClusterClock", "ConstantSpeed", "Distribution", "ExponentialSpeed", "FailRecover",
    "IndependentStraggler", "LogNormalSpeed", "Network", "PersistentSlow", "ShiftedExponentialSpeed",
    "SimResult", "StalenessStats", "StragglerModel", "ThesisStraggler", "Trace", "UniformDistribution",
    "EveryMessages", "Geometric", "NearTarget", "RecordSchedule",
    "WorkerSpec", "WorkerStaleness", "replay", "simulate", "staleness_stats", "timing_streams",
]
