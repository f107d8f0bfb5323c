"""The graph's nodes, one per module: each takes the state and returns an update
(``ingest → prelude → policy ⇄ tools → verify → commit``, and ``followup`` on a thread).
Wiring and routers live in :mod:`sinoloc.agent.graph`."""
