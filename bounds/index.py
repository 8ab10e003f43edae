"""Which theorems exist and which parameters they take, without sympy.

Building the theorems (sympy, :mod:`bounds.ch2` ... ``ch6``) takes about 2 s; declaring a study that
binds a theorem only needs its key, its parameter names and whether it has a largest admissible
step. :data:`INDEX` holds those for the built-in theorems, written by ``python -m bounds.index`` from
the registry (tests/test_startup.py checks that it matches); :func:`lookup` falls back to the
registry for a key it does not list (a theorem registered by a plugin or added since).
"""
from __future__ import annotations

#: theorem key -> (parameter names in order, has a largest admissible step) -- generated, do not edit
INDEX: dict[str, tuple[tuple[str, ...], bool]] = {
    'cor4.3.1': (('K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'M_g', 'M', 'kappa', 'Delta', 'T'), False),
    'cor4.3.2': (('beta', 'K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'M_g', 'M', 'kappa', 'Delta', 'T'), False),
    'cor4.3.2-corrected': (('beta', 'K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'M_g', 'M', 'kappa', 'Delta', 'T'), False),
    'cor4.3.3': (('gamma_g', 'beta', 'B', 'L_g', 'M_g', 'M_C', 'Delta', 'T'), True),
    'cor4.3.3-corrected': (('gamma_g', 'beta', 'B', 'L_g', 'M_g', 'M_C', 'Delta', 'T'), True),
    'cor5.4.1': (('gamma0', 'L', 'M', 'K', 'Delta', 'T'), True),
    'cor5.4.2': (('gamma0', 'L', 'M', 'K', 'Delta', 'T'), True),
    'lem2.3.1': (('eta', 'L', 'Delta', 'd'), True),
    'lem5.4.1': (('gamma', 'L', 'M', 'K', 'sigma', 'G'), False),
    'lem5.4.1-corrected': (('gamma', 'L', 'M', 'K', 'sigma', 'G'), True),
    'rem6.4.1': (('gamma0', 'p', 'L', 'M', 'sigma', 'Delta', 'T'), False),
    'thm2.3.1': (('eta', 'L', 'Delta', 'd', 'b', 'beta', 'm', 'F0', 'T'), True),
    'thm2.3.1-corrected': (('eta', 'L', 'Delta', 'd', 'b', 'beta', 'm', 'F0', 'T'), True),
    'thm2.3.2': (('u0', 'alpha', 'n', 'b', 'd', 'L', 'Delta', 'F0', 'T'), True),
    'thm2.3.2-corrected': (('u0', 'alpha', 'n', 'b', 'd', 'L', 'Delta', 'F0', 'T'), True),
    'thm2.4.1': (('eta', 'L', 'Delta', 'b', 'beta', 'm', 'F0', 'T'), True),
    'thm2.4.1-corrected': (('eta', 'L', 'Delta', 'b', 'beta', 'm', 'F0', 'T'), True),
    'thm2.4.2': (('u0', 'alpha', 'n', 'b', 'L', 'Delta', 'F0', 'T'), True),
    'thm2.4.2-corrected': (('u0', 'alpha', 'n', 'b', 'L', 'Delta', 'F0', 'T'), True),
    'thm3.4.1': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'T'), True),
    'thm3.4.1-corrected': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'T'), True),
    'thm3.4.2': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'S', 'eps', 'C0'), True),
    'thm3.4.2-corrected': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'S', 'eps', 'C0'), True),
    'thm3.4.3': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'T'), True),
    'thm3.4.3-corrected': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'T'), True),
    'thm3.4.3-young': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'T'), True),
    'thm3.4.4': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'S', 'eps', 'C0'), True),
    'thm3.4.4-corrected': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'S', 'eps', 'C0'), True),
    'thm3.4.4-young': (('L', 'lam', 'n', 'H', 'tau', 'eta', 'S', 'eps', 'C0'), True),
    'thm4.2.1': (('gamma_g', 'L_g', 'beta', 'M_C', 'Delta', 'T'), True),
    'thm4.3.1': (('gamma', 'K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'R_max', 'M_g', 'M', 'kappa', 'Delta', 'T'), True),
    'thm4.3.1-corrected': (('gamma', 'K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'R_max', 'M_g', 'M', 'kappa', 'Delta', 'T'), True),
    'thm4.3.2': (('gamma', 'beta', 'K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'R_max', 'MLinv_sum', 'M_g', 'M', 'kappa', 'Delta', 'T'), True),
    'thm4.3.2-corrected': (('gamma', 'beta', 'K', 'B', 'L_g', 'Linv_sum', 'L_min', 'L_max', 'M_max', 'R_max', 'MLinv_sum', 'M_g', 'M', 'kappa', 'Delta', 'T'), True),
    'thm5.4.1': (('gamma', 'L', 'M', 'K', 'Delta', 'T'), True),
    'thm5.4.2': (('gamma0', 'L', 'M', 'K', 'Delta', 'T'), True),
    'thm6.4.1': (('gamma', 'L', 'M', 'sigma', 'Delta', 'T'), False),
    'thm6.4.2': (('gamma0', 'p', 'L', 'M', 'sigma', 'Delta', 'T'), False),
}


def lookup(key: str) -> tuple[tuple[str, ...], bool]:
    """(parameter names, has a largest admissible step) of theorem ``key``; KeyError if unknown."""
    entry = INDEX.get(key)
    if entry is not None:
        return entry
    import bounds  # not listed: build the registry (imports sympy)

    thm = bounds.get(key)
    return thm.param_names, thm.step_limit is not None


def from_registry() -> dict[str, tuple[tuple[str, ...], bool]]:
    """What :data:`INDEX` should hold: every registered theorem (the built-in chapters)."""
    import bounds

    return {t.key: (tuple(t.param_names), t.step_limit is not None) for t in bounds.all()}


def _write() -> None:
    from pathlib import Path

    path = Path(__file__)
    text = path.read_text()
    head, rest = text.split("INDEX: dict[str, tuple[tuple[str, ...], bool]] = {\n", 1)
    lines = rest.splitlines(keepends=True)
    tail = "".join(lines[lines.index("}\n") + 1:])
    body = "".join(f"    {k!r}: ({names!r}, {step}),\n" for k, (names, step) in sorted(from_registry().items()))
    path.write_text(head + "INDEX: dict[str, tuple[tuple[str, ...], bool]] = {\n" + body + "}\n" + tail)


if __name__ == "__main__":
    _write()
