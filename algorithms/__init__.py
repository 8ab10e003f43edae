"""Numerics only: problems, datasets, small numpy nets and algorithms written as roles.

Never imports ``sim``, ``bounds`` or ``studies`` (see ARCHITECTURE.md).
"""
