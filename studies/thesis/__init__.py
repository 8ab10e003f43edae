"""The catalogue: the thesis's studies, one module per chapter, registered from this list.

The engine (``studies.spec``, ``studies.runner``, ``studies.analyses``, ``studies.report``) names no
algorithm, dataset or theorem; these modules do.
"""
from dataclasses import replace

from ..spec import DatasetSpec, StudySpec
from . import ch2, ch3

STUDIES = (*ch2.STUDIES, *ch3.STUDIES)

#: the main job, ``delaylab demo``: Chapter 3's straggler study (Fig. 6) at quick size
DEMO = "ch3-gap"


def demo_tiny(spec: StudySpec) -> StudySpec:
    """``delaylab demo --size tiny``: one small dataset, a few seconds (K = 2 keeps n_k >= H = 1000)."""
    return replace(spec, test_parameters={"dataset": (DatasetSpec("ijcnn1", K=2, scale=0.05),),
                                          "max_epochs": (30,)})
