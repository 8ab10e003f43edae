"""The catalogue: the thesis's studies, one module per chapter, registered from this list.

The engine (``studies.spec``, ``studies.runner``, ``studies.analyses``, ``studies.report``) names no
algorithm, dataset or theorem; these modules do.
"""
from . import ch3

STUDIES = (*ch3.STUDIES,)
