"""The run record's format, versioned: what each line of a record's files holds.

A record is a folder (``RUN_DIR/record`` for an eval run, the ``--record DIR`` of ``locate``):

- ``manifest.json``: :class:`Manifest`, the format's name and version and what made the record;
- ``blobs.jsonl``: one :class:`Blob` a line, a JSON value and its content hash (``h``): a model
  request's messages, the tools offered, a reply, a tool's output. Content-addressed: each value
  is written once however often it recurs (a conversation's prefix is re-sent at every turn);
- ``steps.jsonl``: one :class:`Step` a line, in the order the run made them: an image starts
  (``start``), the graph asked a model (``model``) or a tool (``tool``), a verification verdict
  (``verify``, checked on replay, never served), an image ends (``end``). Exchanges name their
  request and response by blob hash; the request's hash is what a replay looks up.

Both files are append-only and written as the run goes: a blob before the step that names it,
each line in one ``write``, so a killed run keeps every finished line. No absolute path and no
image is inside: images are named by content hash, secrets are scrubbed before anything is hashed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT: Literal["sinoloc-run-record"] = "sinoloc-run-record"
VERSION = 1
MANIFEST = "manifest.json"
BLOBS = "blobs.jsonl"
STEPS = "steps.jsonl"
RECORD_DIR = "record"  # inside an eval run directory

StepKind = Literal["start", "model", "tool", "verify", "end"]
EXCHANGES = ("model", "tool")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["sinoloc-run-record"] = FORMAT
    version: int = Field(description="the format's version; a reader refuses a newer one")
    created: str
    code: dict = Field(default_factory=dict, description="sinoloc version and commit")
    backend: str | None = Field(default=None, description="the policy that filled the slot")
    settings: dict = Field(default_factory=dict, description="the run's settings (no paths)")


class Blob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    h: str = Field(min_length=32, max_length=32, description="content hash of d")
    d: object


class Step(BaseModel):
    """One line of ``steps.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    v: int = Field(description="format version")
    image: str = Field(description="the image's id: a dataset id, or the file's name")
    attempt: int = Field(default=1, ge=1, description="a resumed or repeated run of the image")
    seq: int = Field(ge=0, description="order within the image's attempt")
    kind: StepKind
    name: str | None = Field(default=None, description="the tool, or the model's label")
    req: str | None = Field(default=None, description=(
        "request blob: its hash is the key a replay looks the exchange up by"))
    res: str | None = Field(default=None, description="response blob")
    s: float | None = Field(default=None, description="seconds the exchange took")
    sha256: str | None = Field(default=None, description="the image's content hash (start)")
    data: dict | None = Field(default=None, description=(
        "start/end/verify details (a thread run's start: its question, decision or review "
        "flag, see threads.py)"))


__all__ = ["BLOBS", "EXCHANGES", "FORMAT", "MANIFEST", "RECORD_DIR", "STEPS", "VERSION", "Blob",
           "Manifest", "Step", "StepKind"]
