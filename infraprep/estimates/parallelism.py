"""Model-parallel estimates: pipeline bubble."""

from __future__ import annotations

from ._validate import count


def pipeline_bubble_fraction(stages: int, microbatches: int) -> float:
    """Idle fraction of a GPipe/1F1B pipeline: (p−1)/(m+p−1).

    Source: Huang et al., "GPipe" (2019); Narayanan et al., "Efficient Large-Scale
    Language Model Training on GPU Clusters Using Megatron-LM" (2021), §2.2.
    """
    p, m = count("stages", stages), count("microbatches", microbatches)
    return (p - 1) / (m + p - 1)
