"""Evaluation over TuXun-style labelled sets (the harness arrives with its own issue)."""
