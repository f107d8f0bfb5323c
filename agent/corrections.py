"""Corrections a person gives: the true place of a photo, kept with the image's hash and the
run's evidence in a local file (JSON lines, validated when read), and turned on request into a
user knowledge entry that later runs retrieve like any other clue.

The file is ``$SINOLOC_CORRECTIONS`` or ``corrections.jsonl`` in the user data directory; the
knowledge entries go to ``$SINOLOC_USER_KNOWLEDGE`` or ``user_knowledge.csv`` beside it, which
the knowledge corpus loads with the user's other clue files
(:func:`sinoloc.tools.knowledge.corpus.user_files`). Nothing here leaves the machine.
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from sinoloc.agent.review import resolve_place
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.knowledge.corpus import (
    USER_KNOWLEDGE_ENV,
    ClueEntry,
    CorpusError,
    KnowledgeKind,
    load_corpus,
    promoted_file,
    user_files,
    validate,
)
from sinoloc.tools.regions import RegionIndex, get_region_index

ENV_CORRECTIONS = "SINOLOC_CORRECTIONS"
PROVENANCE = "user correction"
PROMOTED_STRENGTH = 0.8  # a sign a person placed once: strong, short of a phone or an address
CORPUS_COLUMNS = ("id", "kind", "clue_zh", "clue_en", "regions", "strength", "exclusive",
                  "excludes", "patterns", "source")
_LOCK = threading.Lock()


class CorrectionsError(ValueError):
    """The corrections file is malformed, or a correction cannot be made or promoted."""


class Correction(BaseModel):
    """One photo's true place, as a person gave it."""

    id: str = Field(pattern=r"^c-[0-9a-f]{10}-\d+$")
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    truth: str = Field(min_length=2, description="the true place, 江苏省苏州市")
    truth_adcode: str = Field(pattern=r"^\d{6}$")
    truth_level: str
    predicted: str | None = None
    predicted_adcode: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    texts: list[str] = Field(default_factory=list, description="text read in the image")
    note: str = Field(default="", max_length=500)
    surface: str = Field(default="api", description="where it was given: chat, web, api")
    at: float
    promoted_to: str | None = None


def corrections_path() -> Path:
    env = os.environ.get(ENV_CORRECTIONS)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("sinoloc")) / "corrections.jsonl"


def load_corrections(path: Path | None = None, index: RegionIndex | None = None) -> list[Correction]:
    """Every correction in the file, validated (a bad line raises with its file and line)."""
    path = path or corrections_path()
    if not path.exists():
        return []
    index = index or get_region_index()
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = Correction.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0] if not isinstance(exc, ValidationError) else \
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise CorrectionsError(f"{path}:{number}: {first}") from exc
        if index.get(item.truth_adcode, item.truth_level) is None:
            raise CorrectionsError(f"{path}:{number}: unknown adcode {item.truth_adcode}")
        out.append(item)
    return out


def record_correction(truth: str, prediction: GeoPrediction, *, texts: Iterable[str] = (),
                      note: str = "", surface: str = "api", path: Path | None = None,
                      index: RegionIndex | None = None) -> Correction:
    """Store the true place of the photo ``prediction`` was made for (raises
    :class:`CorrectionsError` when ``truth`` names no region, or names several)."""
    from sinoloc.agent.review import ReviewRefused

    index = index or get_region_index()
    try:
        region = resolve_place(truth, index)
    except ReviewRefused as exc:
        raise CorrectionsError(str(exc)) from exc
    path = path or corrections_path()
    sha = prediction.image.sha256
    predicted = prediction.district_adcode or prediction.city_adcode or prediction.province_adcode
    seen = list(dict.fromkeys(t.strip() for t in [*texts, *(e.text for e in prediction.evidence)]
                              if t and t.strip()))
    with _LOCK:
        existing = load_corrections(path, index)
        number = 1 + sum(1 for c in existing if c.image_sha256 == sha)
        item = Correction(id=f"c-{sha[:10]}-{number}", image_sha256=sha, truth=index.label(region),
                          truth_adcode=region.adcode, truth_level=region.level.value,
                          predicted=_label(prediction), predicted_adcode=predicted,
                          evidence=prediction.evidence, texts=seen[:50], note=note[:500],
                          surface=surface, at=time.time())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(item.model_dump_json() + "\n")
    return item


def _label(p: GeoPrediction) -> str:
    return "".join(dict.fromkeys(x for x in (p.province, p.city, p.district) if x))


# ------------------------------------------------------------------ promotion
def sign_pattern(item: Correction, corpus_patterns: set[str]) -> str:
    """The text that identifies the photo's place: the longest text read in it that is not an
    admin name nor already a pattern of the corpus."""
    from sinoloc.tools.clues.gazetteer import get_gazetteer

    gazetteer = get_gazetteer()
    for text in sorted(item.texts, key=len, reverse=True):
        text = re.sub(r"\s+", "", text)
        if len(text) < 3 or text in corpus_patterns or re.fullmatch(r"[\d\W_]+", text):
            continue
        if gazetteer.resolve(text) is not None and len(text) <= 6:
            continue  # a bare place name locates already, as an address
        return text
    raise CorrectionsError(f"{item.id}: no text read in the photo identifies it; give --pattern")


def promote(correction_id: str, *, pattern: str | None = None,
            kind: KnowledgeKind = KnowledgeKind.LANDMARK, path: Path | None = None,
            target: Path | None = None) -> ClueEntry:
    """Turn a correction into a user knowledge entry (provenance "user correction"): the sign
    text read in the photo points to the true place. The entry is validated with the whole
    corpus before it is written; later runs that read the text find it."""
    path = path or corrections_path()
    target = target or promoted_file()
    index = get_region_index()
    items = load_corrections(path, index)
    item = next((c for c in items if c.id == correction_id), None)
    if item is None:
        raise CorrectionsError(f"no correction {correction_id!r} (`sinoloc knowledge "
                               "corrections` lists them)")
    files = list(dict.fromkeys([*user_files(), target]))
    corpus = load_corpus([f for f in files if f.exists()], index)
    text = (pattern or "").strip() or sign_pattern(
        item, {p for e in corpus.entries for p in e.patterns})
    entry_id = f"user-correction-{item.image_sha256[:10]}-{correction_id.rsplit('-', 1)[1]}"
    if entry_id in corpus.by_id:
        raise CorrectionsError(f"{correction_id} is already promoted ({entry_id})")
    day = time.strftime("%Y-%m-%d", time.gmtime(item.at))
    row = {"id": entry_id, "kind": kind.value,
           "clue_zh": f"用户更正：招牌「{text}」在{item.truth}",
           "clue_en": f"User correction: the sign {text!r} is in {item.truth}",
           "regions": f"{item.truth_adcode}:1", "strength": str(PROMOTED_STRENGTH),
           "exclusive": "", "excludes": "", "patterns": text,
           "source": f"{PROVENANCE} {correction_id} ({day}; photo sha256 {item.image_sha256[:12]})"}
    try:
        entry = ClueEntry.model_validate({**row, "origin": str(target)})
        validate([*corpus.entries, entry], index)
    except (ValidationError, CorpusError, ValueError) as exc:
        raise CorrectionsError(f"{correction_id}: cannot promote: {exc}") from exc
    _append_row(target, row)
    _mark_promoted(path, correction_id, entry_id)
    _forget_loaded_corpus()
    return entry


def _append_row(target: Path, row: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    new = not target.exists() or target.stat().st_size == 0
    with _LOCK, target.open("a", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CORPUS_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _mark_promoted(path: Path, correction_id: str, entry_id: str) -> None:
    with _LOCK:
        lines = path.read_text(encoding="utf-8").splitlines()
        out = []
        for line in lines:
            if line.strip() and json.loads(line).get("id") == correction_id:
                line = json.dumps({**json.loads(line), "promoted_to": entry_id}, ensure_ascii=False)
            out.append(line)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
        tmp.replace(path)


def _forget_loaded_corpus() -> None:
    """Later runs in this process read the new entry (the corpus and its index are cached)."""
    from sinoloc.tools.knowledge.corpus import corpus_for
    from sinoloc.tools.knowledge.retrieval import _index_for

    corpus_for.cache_clear()
    _index_for.cache_clear()


__all__ = ["ENV_CORRECTIONS", "PROVENANCE", "USER_KNOWLEDGE_ENV", "Correction",
           "CorrectionsError", "corrections_path", "load_corrections", "promote",
           "record_correction", "sign_pattern"]
