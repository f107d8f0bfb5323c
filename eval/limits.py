"""Defaults of an eval run that the command line shows before anything heavy is imported
(:mod:`sinoloc.app.cli.eval` builds its parser from these, and
:class:`~sinoloc.eval.run_config.RunConfig` validates against the same names)."""

# hard per-image limit in seconds: a worker past it is stopped and the image marked timed out
IMAGE_TIMEOUT_S = 600.0
