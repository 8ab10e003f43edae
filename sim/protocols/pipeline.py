"""The K-stage pipeline of Chapters 5-6: the role interface it will drive (not yet a registered protocol).

A network is split into K stages (thesis §5.3, Fig. 16; §6.3): stage k owns a contiguous block of
layers (``algorithms.problem.Layered``: each layer runs alone with its own parameter block, so a
stage is the composition of its layers' ``layer_forward`` / ``layer_backward``). Micro-batches
flow forward through the stages and error gradients flow back. How a stage may use stale
information is the algorithm:

* BP (backpropagation): stage k waits for the current gradient from stage k+1 (the forward and
  backward locking of §5.1);
* DDG (decoupled parallel backpropagation, eq. 5.9-5.12): stage k updates with the gradient it
  received K - 1 - k steps late, computed at the activations it sent then (stored inputs);
* FR (features replay, §6.3.2, eq. 6.5-6.8): stage k recomputes its forward pass on the stored
  input of an earlier step before back-propagating the late error gradient;
* DNI: stage k uses a synthetic gradient module's prediction.

This module will hold that protocol (registered as ``"pipeline"``, one line in
``sim.protocols.BUILTIN``); today it holds the interface. The protocol will own: one simpy process per stage and a ``simpy.Store`` per link (activations forward, error
gradients backward), so queueing between stages shows in the trace; its trace columns per row
(stage, micro-batch index, direction, the step whose parameters the stage used, the step whose
gradient it applied) -- so the delay of each stage's update (K - 1 - k for DDG) is measured, not
assumed; validation of those rules; and replay in the recorded order. Per-stage compute times
come from the cluster's workers (worker k = the device of stage k); link transfers from its
network (bytes = the activation or gradient array's size).

The role interface, time-free (numbers only), that the pipeline protocol will drive:
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class PipelineRoles(Protocol):
    """An algorithm split into K pipeline stages (the interface, for Chapters 5-6).

    Attributes: ``K`` (stages), ``protocol = "pipeline"``, ``epoch_work``, ``round_length``
    (None), ``micro_batches`` (micro-batches in flight at once, 1 = plain BP).
    """

    K: int
    protocol: str
    epoch_work: float
    round_length: int | None
    micro_batches: int

    def next_batch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Stage 0's input: the indices of the next mini-batch and its feature rows."""

    def forward(self, k: int, step: int, a_in: np.ndarray) -> tuple[np.ndarray, float]:
        """Stage k's forward pass on activations ``a_in`` at its parameters of ``step``; returns
        (activations for stage k + 1, work in gradient-evaluation units). Keeps what backward needs."""

    def loss_backward(self, step: int, logits: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, float]:
        """The head: the error gradient of the loss w.r.t. the last stage's output, and its work."""

    def backward(self, k: int, step: int, g_out: np.ndarray) -> tuple[np.ndarray, float]:
        """Stage k's backward pass for the micro-batch of ``step`` (recomputing its forward pass
        first under features replay); returns (error gradient for stage k - 1, work)."""

    def apply(self, k: int, step: int) -> None:
        """Stage k applies its parameter update from the gradient of ``step`` (the delay is the
        algorithm's: 0 for BP, K - 1 - k for DDG)."""

    def metrics(self) -> dict[str, float]:
        """Probes over the full parameter vector (all stages' blocks)."""

    def stage_layers(self) -> Sequence[range]:
        """The layers each stage owns (a partition of ``problem.layers``, in order)."""
