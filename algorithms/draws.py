"""Compiled index draws (numba) that consume a numpy Generator's stream exactly as numpy does.

The distributed blocks (:mod:`algorithms.block_kernels`) draw each message's samples here, so the
compiled roles see the same indices, and leave each worker's stream in the same state, as the numpy
roles' ``rng.choice(n_k, size=H, replace=False)`` and ``rng.integers(n_k, size=1)``
(:func:`algorithms.shards.draw_block`).

numpy (``Generator.choice``, numpy >= 1.17) draws H distinct values by Floyd's algorithm followed by a
Fisher-Yates shuffle of the H values, or, when ``n_k > 10000 and H > n_k // 50``, by a partial
Fisher-Yates "tail shuffle" of ``arange(n_k)``; each draw is ``random_bounded_uint64(bitgen, 0, j)``,
i.e. Lemire's bounded method on ``next_uint32`` for ranges below 2^32. These kernels run the same
algorithms and call the bit generator's own ``next_uint32`` through numpy's documented C interface
(``bit_generator.ctypes.next_uint32`` and ``state_address``), so the generator's state -- including
the buffered half-word a PCG64 keeps -- advances exactly as numpy's does. :func:`choice_into` keeps
numpy's hash set (the literal reference); :func:`choice_into_marks` answers Floyd's "drawn already?"
with a reused byte per value instead (same values, same order, same stream; tests/test_block_kernels.py).
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: numpy's Generator.choice switches from Floyd's algorithm to a tail shuffle above these
TAIL_MIN_POP, TAIL_CUTOFF = 10000, 50
_U32 = 0xFFFFFFFF


@intrinsic
def _next_uint32(typingctx, fn, state):
    """uint32 ``fn(state)``: a bit generator's ``next_uint32`` (addresses as integers)."""
    sig = types.uint32(fn, state)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.IntType(32), [i8p])
        f = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(f, [builder.inttoptr(args[1], i8p)])

    return sig, codegen


def rng_handles(rng: np.random.Generator) -> tuple[int, int]:
    """(address of the bit generator's next_uint32, address of its state) from numpy's ctypes interface.

    Valid while ``rng`` is alive; callers keep a reference to ``rng`` next to the handles.
    """
    c = rng.bit_generator.ctypes
    return int(ctypes.cast(c.next_uint32, ctypes.c_void_p).value), int(c.state_address)


@njit(cache=True)
def _bounded(fn, st, rng):
    """numpy's ``random_bounded_uint64(bitgen, 0, rng, 0, False)`` for rng < 2^32: a uniform
    integer in [0, rng] by Lemire's method on next_uint32 (``buffered_bounded_lemire_uint32``)."""
    r = np.uint64(rng)
    if r == np.uint64(0):
        return np.int64(0)
    if r == np.uint64(_U32):
        return np.int64(_next_uint32(fn, st))
    excl = r + np.uint64(1)
    m = np.uint64(_next_uint32(fn, st)) * excl
    left = m & np.uint64(_U32)
    if left < excl:
        threshold = (np.uint64(_U32) - r) % excl
        while left < threshold:
            m = np.uint64(_next_uint32(fn, st)) * excl
            left = m & np.uint64(_U32)
    return np.int64(m >> np.uint64(32))


@njit(cache=True)
def _gen_mask(mx):
    mask = np.uint64(mx)
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> np.uint64(s)
    return np.int64(mask)


def choice_marks(n: int) -> np.ndarray:
    """Scratch for :func:`choice_into_marks` drawing from populations up to ``n``: n zero bytes."""
    return np.zeros(max(int(n), 1), dtype=np.uint8)


@njit(cache=True)
def choice_into(fn, st, n, H, out):
    """out[:H] = ``rng.choice(n, size=H, replace=False)`` (H >= 2) or ``rng.integers(n, size=1)``
    (H = 1), consuming the same stream (see the module docstring); n < 2^32."""
    choice_into_table(fn, st, n, H, out, np.full(_gen_mask(np.uint64(1.2 * H)) + 1, -1, dtype=np.int64))


@njit(cache=True)
def choice_into_table(fn, st, n, H, out, table):
    """:func:`choice_into` with the caller's hash table for Floyd's algorithm (at least the hash size,
    all -1), reset to -1 before it returns."""
    if H == 1 or (n > TAIL_MIN_POP and H > n // TAIL_CUTOFF):
        _choice_other(fn, st, n, H, out)
        return
    # Floyd's algorithm with a linear-probing hash set, then a Fisher-Yates shuffle of the H values
    mask = _gen_mask(np.uint64(1.2 * H))
    for j in range(n - H, n):
        val = _bounded(fn, st, j)
        loc = val & mask
        while table[loc] != -1 and table[loc] != val:
            loc = (loc + 1) & mask
        if table[loc] == -1:
            table[loc] = val
            out[j - n + H] = val
        else:
            loc = j & mask
            while table[loc] != -1:
                loc = (loc + 1) & mask
            table[loc] = j
            out[j - n + H] = j
    table[:mask + 1] = -1
    _shuffle(fn, st, H, out)


@njit(cache=True)
def choice_into_marks(fn, st, n, H, out, marks):
    """:func:`choice_into` with a membership byte per value instead of numpy's hash set: ``marks``
    (``choice_marks(n)``: at least n zero bytes) is restored before it returns.

    Floyd's algorithm only asks whether a value is already drawn; a byte per value answers as the
    hash set does, without probing, so the values, their order and the stream are numpy's."""
    if H == 1 or (n > TAIL_MIN_POP and H > n // TAIL_CUTOFF):
        _choice_other(fn, st, n, H, out)
        return
    for j in range(n - H, n):
        val = _bounded(fn, st, j)
        if marks[val]:
            val = j  # j > every value drawn so far: never in the set
        marks[val] = 1
        out[j - n + H] = val
    for r in range(H):
        marks[out[r]] = 0
    _shuffle(fn, st, H, out)


@njit(cache=True)
def _shuffle(fn, st, H, out):
    """numpy's Fisher-Yates shuffle of the H values Floyd's algorithm drew."""
    for i in range(H - 1, 0, -1):
        j = _bounded(fn, st, i)
        t = out[j]
        out[j] = out[i]
        out[i] = t


@njit(cache=True)
def _choice_other(fn, st, n, H, out):
    """:func:`choice_into` when H = 1 (``rng.integers(n, size=1)``) or numpy takes its tail shuffle."""
    if H == 1:
        out[0] = _bounded(fn, st, n - 1)
        return
    # tail shuffle: Fisher-Yates over positions n-1 .. max(n - H, 1) of arange(n)
    idx = np.arange(n)
    first = max(n - H, 1)
    for i in range(n - 1, first - 1, -1):
        j = _bounded(fn, st, i)
        t = idx[j]
        idx[j] = idx[i]
        idx[i] = t
    for r in range(H):
        out[r] = idx[n - H + r]


@njit(cache=True)
def uniform_into(fn, st, n, out):
    """out[:] = ``rng.integers(n, size=len(out))`` (with replacement), the same stream; n < 2^32."""
    for r in range(out.shape[0]):
        out[r] = _bounded(fn, st, n - 1)
