"""Reading a record back, validated: every line is checked against the schema, every blob
against its hash, every step's blobs for presence, and no string may hold an absolute path. A
torn or edited record is a :class:`~.writer.RecordError` naming the file and the line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from sinoloc.agent.records.normalize import canonical, content_hash
from sinoloc.agent.records.schema import BLOBS, EXCHANGES, MANIFEST, STEPS, VERSION, Blob, Manifest, Step
from sinoloc.agent.records.writer import RecordError
from sinoloc.tools.jsonl_log import error_line

# a string that starts like an absolute path of a machine (the scrubber writes <tmp>, ~, .)
ABSOLUTE_PATH = re.compile(r"(?:^|[\s\"'=(])(/(?:home|root|tmp|Users|var|work|mnt|opt|srv)/)"
                           r"|[A-Za-z]:\\\\")


@dataclass
class ImageRecord:
    """One image's last attempt: its steps in order."""

    image: str
    attempt: int
    sha256: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def exchanges(self) -> list[Step]:
        return [s for s in self.steps if s.kind in EXCHANGES]

    @property
    def finished(self) -> bool:
        return any(s.kind == "end" for s in self.steps)


@dataclass
class Record:
    folder: Path
    manifest: Manifest
    blobs: dict[str, object]
    images: dict[str, ImageRecord]
    steps: int = 0
    runs: list[ImageRecord] = field(default_factory=list)  # every attempt, in the order begun

    def blob(self, h: str | None):
        return self.blobs.get(h) if h else None

    def by_sha256(self, sha: str) -> ImageRecord | None:
        return next((i for i in self.images.values() if i.sha256 == sha), None)


def _parsed(model, path: Path, number: int, raw: bytes):
    try:
        return model.model_validate(json.loads(raw))
    except (ValidationError, ValueError) as exc:
        raise RecordError(f"{path}:{number}: {error_line(exc)}") from None


def _lines(path: Path):
    if not path.exists():
        raise RecordError(f"{path}: missing (not a run record)")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                raise RecordError(f"{path}:{number}: torn line (the run was cut off mid-write;"
                                  " a resumed run cuts it)")
            yield number, raw


def _check_paths(path: Path, number: int, raw: bytes) -> None:
    found = ABSOLUTE_PATH.search(raw.decode("utf-8", "replace"))
    if found:
        raise RecordError(f"{path}:{number}: an absolute path inside ({found.group(0).strip()!r}"
                          "…): records are portable")


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.exists():
        raise RecordError(f"{path}: missing (not a run record)")
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError) as exc:
        raise RecordError(f"{path}:1: {error_line(exc)}") from None
    if manifest.version > VERSION:
        raise RecordError(f"{path}:1: format version {manifest.version} is newer than this "
                          f"sinoloc reads ({VERSION})")
    return manifest


def _record_folder(folder: Path) -> Path:
    """``folder`` itself, or its ``record/`` when ``folder`` is an eval run directory."""
    folder = Path(folder)
    if not (folder / MANIFEST).exists() and (folder / "record" / MANIFEST).exists():
        folder = folder / "record"
    return folder


def _read_blobs(folder: Path) -> dict[str, object]:
    """Every blob by its hash, each checked against its hash and for absolute paths."""
    blobs: dict[str, object] = {}
    path = folder / BLOBS
    for number, raw in _lines(path):
        blob = _parsed(Blob, path, number, raw)
        if content_hash(blob.d) != blob.h:
            raise RecordError(f"{path}:{number}: content does not match its hash {blob.h} "
                              "(the line was edited)")
        _check_paths(path, number, raw)
        blobs[blob.h] = blob.d
    return blobs


def _checked_step(path: Path, number: int, raw: bytes, blobs: dict[str, object]) -> Step:
    """One steps line, validated: its version, the blobs it names, an exchange's req and res."""
    step = _parsed(Step, path, number, raw)
    if step.v > VERSION:
        raise RecordError(f"{path}:{number}: format version {step.v} is newer than {VERSION}")
    for h in (step.req, step.res):
        if h is not None and h not in blobs:
            raise RecordError(f"{path}:{number}: names blob {h}, which {BLOBS} lacks")
    if step.kind in EXCHANGES and (step.req is None or step.res is None):
        raise RecordError(f"{path}:{number}: a {step.kind} step needs req and res")
    _check_paths(path, number, raw)
    return step


def _place_step(step: Step, attempts: dict[tuple[str, int], ImageRecord],
                images: dict[str, ImageRecord], runs: list[ImageRecord]) -> None:
    """Append ``step`` to its image's attempt; the last attempt of each image counts."""
    slot = (step.image, step.attempt)
    if slot not in attempts or step.kind == "start":  # a start begins the attempt afresh
        attempts[slot] = ImageRecord(step.image, step.attempt, step.sha256)
        runs.append(attempts[slot])
    current = attempts[slot]
    current.sha256 = current.sha256 or step.sha256
    current.steps.append(step)
    if step.image not in images or images[step.image].attempt <= step.attempt:
        images[step.image] = current  # the last attempt of each image counts


def load_record(folder: Path) -> Record:
    """The record in ``folder`` (an eval run directory's ``record/`` is found too), validated."""
    folder = _record_folder(folder)
    manifest = read_manifest(folder)
    blobs = _read_blobs(folder)
    images: dict[str, ImageRecord] = {}
    attempts: dict[tuple[str, int], ImageRecord] = {}
    runs: list[ImageRecord] = []
    count = 0
    path = folder / STEPS
    for number, raw in _lines(path):
        _place_step(_checked_step(path, number, raw, blobs), attempts, images, runs)
        count += 1
    return Record(folder=folder, manifest=manifest, blobs=blobs, images=images, steps=count,
                  runs=runs)


def record_size(folder: Path) -> dict:
    """Bytes on disk, split into model text (messages and replies) and the rest."""
    record = load_record(folder)
    model_text = 0
    for image in record.images.values():
        for step in image.steps:
            if step.kind == "model":
                model_text += len(canonical(record.blob(step.res)).encode())
    messages = {h for image in record.images.values() for s in image.steps if s.kind == "model"
                for h in (record.blob(s.req) or {}).get("messages", [])}
    model_text += sum(len(canonical(record.blobs[h]).encode()) for h in messages if h in record.blobs)
    total = sum((record.folder / name).stat().st_size for name in (BLOBS, STEPS, MANIFEST))
    steps = sum(len(i.steps) for i in record.images.values())
    return {"bytes": total, "model_text_bytes": model_text, "steps": steps,
            "bytes_per_step_besides_model_text": round((total - model_text) / max(steps, 1), 1)}


__all__ = ["ABSOLUTE_PATH", "ImageRecord", "Record", "load_record", "read_manifest",
           "record_size"]
