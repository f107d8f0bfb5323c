"""Several trajectories of the policy on one image, and the one answer taken from them
(``samples`` > 1; the design is in :mod:`sinoloc.agent.samples.plan`)."""
