"""The visual prior: a hierarchical province → city → district classifier over a transformers
vision backbone (trained with ``sinoloc prior train``), or a zero-shot CLIP prior, run by the
``cnn_prior`` tool. torch and transformers are imported only by the modules that need them
(``labels``, ``distribution`` and ``data`` are numpy only)."""

ENV_CHECKPOINT = "SINOLOC_PRIOR_CHECKPOINT"


class PriorUnavailable(RuntimeError):
    """The prior cannot run: no checkpoint, a backbone that cannot be loaded, a bad file."""
