"""Protocols by name: each module owns its simpy processes, the role interface it drives,
its trace columns and their validation, its delay statistics and its replay.

========================  =====================================================================
``"async"``               :mod:`sim.protocols.parameter_server`: the gated asynchronous
                          parameter server (thesis Alg. 2/3, Alg. 6/7)
``"sync"``                :mod:`sim.protocols.sync_rounds`: synchronous rounds (CoCoA+)
``"shared-memory"``       :mod:`sim.protocols.shared_memory`: P threads over one vector,
                          inconsistent reads, lock-free writes (thesis Alg. 1, eqs. 2.4-2.6)
========================  =====================================================================

The K-stage pipeline of Chapters 5-6 will be one more module; the interface it needs is
written down in :mod:`sim.protocols.pipeline`. A new protocol is a module defining a
:class:`~sim.protocols.base.Protocol` subclass plus one line in :data:`BUILTIN` (or a call to
:func:`register_protocol` from anywhere, e.g. a test). Nothing outside this package branches on a
protocol's name: the simulator, replay, traces and studies look the protocol up here.
"""
from __future__ import annotations

import importlib

from sim.protocols.base import Protocol, ProtocolProcesses

#: the registered protocols: name -> "module:Class" (imported on first use)
BUILTIN = {
    "async": "sim.protocols.parameter_server:AsyncParameterServer",
    "sync": "sim.protocols.sync_rounds:SyncRounds",
    "shared-memory": "sim.protocols.shared_memory:SharedMemory",
}

_REGISTRY: dict[str, Protocol] = {}


def register_protocol(protocol: Protocol, *, replace: bool = False) -> Protocol:
    """Make ``protocol`` (an instance of a :class:`Protocol` subclass) available under its ``name``."""
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be an instance of sim.protocols.Protocol, got {type(protocol).__name__}")
    name = protocol.name
    if not isinstance(name, str) or not name:
        raise ValueError(f"protocol.name must be a non-empty string, got {name!r}")
    if not replace and (name in _REGISTRY or name in BUILTIN) and get_protocol(name) is not protocol:
        raise ValueError(f"protocol name {name!r} is already registered; pass replace=True to overwrite it")
    _REGISTRY[name] = protocol
    return protocol


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name``; ValueError listing the known names otherwise."""
    proto = _REGISTRY.get(name) if isinstance(name, str) else None
    if proto is None and isinstance(name, str) and name in BUILTIN:
        module, cls = BUILTIN[name].split(":")
        proto = _REGISTRY[name] = getattr(importlib.import_module(module), cls)()
    if proto is None:
        raise ValueError(f"protocol must be one of {protocol_names()}, got {name!r}")
    return proto


def protocol_names() -> list[str]:
    """All registered protocol names, sorted."""
    return sorted(set(BUILTIN) | set(_REGISTRY))


__all__ = ["BUILTIN", "Protocol", "ProtocolProcesses", "get_protocol", "protocol_names", "register_protocol"]
