"""Labelled sets for eval: :mod:`sinoloc.tools.datasets` reads them (the prior trainer reads the
same files, so the reader lives below both); here, what ``sinoloc eval validate`` checks across a
whole set. The reader's names are imported here too, so eval's callers keep one import.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from pydantic import BaseModel

from sinoloc.tools.datasets import (
    IMAGE_KEYS,
    DatasetError,
    LabelledImage,
    Problem,
    Truth,
    dataset_fingerprint,
    derive_truth,
    load_dataset,
    read_rows,
)

__all__ = ["IMAGE_KEYS", "DatasetError", "LabelledImage", "Problem", "Truth", "ValidationIssue",
           "ValidationReport", "dataset_fingerprint", "derive_truth", "load_dataset", "read_rows",
           "validate"]


class ValidationIssue(Problem):
    id: str


class ValidationReport(BaseModel):
    rows: int
    usable: int
    issues: list[ValidationIssue]

    @property
    def errors(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity == "error"]


def _image_issue(item: LabelledImage) -> tuple[str | None, bytes]:
    """(what is wrong with the item's image file or None, its bytes)."""
    from sinoloc.tools.images import ImageInputError, MissingImageError, load_image, read_image_file

    name = Path(item.image).name
    try:  # a regular file only, its magic bytes before the rest: a FIFO or 1 GB of text
        data = read_image_file(item.image, label=name)  # costs one stat or one small read
        load_image(data, label=name)
    except ImageInputError as exc:
        return (f"image {item.image} is missing" if isinstance(exc, MissingImageError)
                else f"image {name} is not an image sinoloc can read: {exc}"), b""
    return None, data


def validate(items: list[LabelledImage], check_images: bool = True) -> ValidationReport:
    """Unreadable images, coordinates outside China, labels that do not resolve or disagree,
    duplicate ids, files and image contents."""
    issues: list[ValidationIssue] = []
    for item in items:
        issues += [ValidationIssue(id=item.id, **p.model_dump()) for p in item.problems]
    by_id = Counter(i.id for i in items)
    issues += [ValidationIssue(id=k, severity="error", message=f"id used by {n} rows")
               for k, n in by_id.items() if n > 1]
    by_file: dict[str, list[str]] = defaultdict(list)
    by_content: dict[str, list[str]] = defaultdict(list)
    for item in items:
        by_file[item.image].append(item.id)
        if not check_images:
            continue
        problem, data = _image_issue(item)
        if problem is not None:
            issues.append(ValidationIssue(id=item.id, severity="error", message=problem))
            continue
        by_content[hashlib.sha256(data).hexdigest()].append(item.id)
    for groups, what in ((by_file, "the same image file"), (by_content, "identical images")):
        for ids in groups.values():
            if len(ids) > 1:
                issues.append(ValidationIssue(id=ids[0], severity="warning",
                                              message=f"{what} as {', '.join(ids[1:])}"))
    bad = {i.id for i in issues if i.severity == "error"}
    return ValidationReport(rows=len(items), usable=sum(i.id not in bad for i in items),
                            issues=issues)
