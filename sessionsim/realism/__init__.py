"""How realistic a run's stream is: metrics read from a run directory against published
bands (``bands.yaml``), and the figure that draws them."""

from sessionsim.realism.metrics import (
    Band,
    Realism,
    RealismRow,
    load_bands,
    measure_realism,
    realism_block,
)

__all__ = ["Band", "Realism", "RealismRow", "load_bands", "measure_realism", "realism_block"]
