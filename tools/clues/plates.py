"""Licence plates (province abbreviation + letter) → city and province, from plates.csv.

Only the prefix locates; the serial decides whether the text is a plate at all. OCR slips the
plate standard (GA 36-2018) rules out are read back through plate_ocr_confusions.csv: a letter O
or I in a serial is a 0 or 1 (plates never use O or I), a digit in the letter position is the
letter of the same shape when exactly one such prefix exists for the province, a traditional
province character is its simplified form. Each correction lowers the clue's confidence; the
serial must still have a plate's shape (5 characters with a digit, 4 and 挂/学/警/港/澳, or a
new-energy 6: D/F then a letter or digit then 4 digits, or 5 digits then D/F).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.clues.textfold import fold_width, upper_ascii
from sinoloc.tools.knowledge import PLATE_LETTERS, PLATE_SERIAL_CHARS, Knowledge
from sinoloc.tools.regions import RegionIndex

CONFIDENCE = 0.85  # a plate read as printed
# what each relaxation takes off the confidence (per corrected character for the serial)
PENALTY = {"province": 0.05, "letter": 0.15, "serial": 0.07, "fold": 0.03}
MAX_SERIAL_CORRECTIONS = 2  # more than two impossible characters: not a plate reading
_SEPARATORS = " \t·•.\\-・‧∙⋅—–"
_SEP = f"[{_SEPARATORS}]?"
_CHAR = "A-Z0-9〇"
_SPECIAL = "挂学警港澳"
_NEW_ENERGY_SMALL = re.compile(r"[DF][A-HJ-NP-Z0-9][0-9]{4}")
_NEW_ENERGY_LARGE = re.compile(r"[0-9]{5}[DF]")


@dataclass(frozen=True)
class PlateReading:
    prefix: str  # 粤B
    serial: str  # after corrections
    corrections: tuple[str, ...]  # 'O→0 (serial)', ...
    confidence: float


def _pattern(province_chars: str) -> re.Pattern:
    return re.compile(
        rf"([{province_chars}])({_SEP})([{_CHAR}])({_SEP})"
        rf"([{_CHAR}]{{6}}|[{_CHAR}]{{5}}|[{_CHAR}]{{4}}[{_SPECIAL}])(?![{_CHAR}])")


def _serial_shape_ok(serial: str) -> bool:
    if len(serial) == 6:
        return bool(_NEW_ENERGY_SMALL.fullmatch(serial) or _NEW_ENERGY_LARGE.fullmatch(serial))
    return any(c.isdigit() for c in serial)


def read_plate(match: re.Match, raw: str, knowledge: Knowledge) -> PlateReading | None:
    """The plate a regex match stands for, or None when the standard rules the reading out."""
    province, sep1, letter, sep2, serial = match.groups()
    confusions = knowledge.plate_confusions
    corrections: list[str] = []
    penalty = 0.0
    abbreviations = {p[0] for p in knowledge.plates}
    if province not in abbreviations:
        rows = confusions.get(("province", province), ())
        if len(rows) != 1:
            return None
        corrections.append(f"{province}→{rows[0].meant}")
        province, penalty = rows[0].meant, penalty + PENALTY["province"]
    if letter not in PLATE_LETTERS:
        # a digit (or O) where the letter goes: the same-shaped letter, if only one fits this
        # province, and only in a plate laid out as one (a separator before the serial)
        fits = [r.meant for r in confusions.get(("letter", letter), ())
                if province + r.meant in knowledge.plates]
        if len(fits) != 1 or not sep2:
            return None
        corrections.append(f"{letter}→{fits[0]} (letter)")
        letter, penalty = fits[0], penalty + PENALTY["letter"]
    fixed = []
    for char in serial:
        if char in PLATE_SERIAL_CHARS or char in _SPECIAL:
            fixed.append(char)
            continue
        rows = confusions.get(("serial", char), ())
        if len(rows) != 1:
            return None
        fixed.append(rows[0].meant)
        corrections.append(f"{char}→{rows[0].meant} (serial)")
        penalty += PENALTY["serial"]
    if sum("(serial)" in c for c in corrections) > MAX_SERIAL_CORRECTIONS:
        return None
    normalised = "".join(fixed)
    if not _serial_shape_ok(normalised):
        return None
    if not any(c.isdigit() for c in serial) and not (sep1 or sep2):
        return None  # letters only as read (京ABOUTS): a plate's digits must be read, or its layout
    if fold_width(raw) != raw or upper_ascii(raw) != raw:
        corrections.append("full-width or lower-case characters")
        penalty += PENALTY["fold"]
    return PlateReading(province + letter, normalised, tuple(corrections), round(CONFIDENCE - penalty, 2))


PROVINCE_BACKGROUND = 0.3  # the rest of the province, together, against the plate's cities


def province_background(plate, index: RegionIndex) -> float:
    """The support of each other district of the plate's province: together they weigh
    ``PROVINCE_BACKGROUND`` times the plate's own cities (cars registered in one city are mostly
    driven there, sometimes elsewhere in the province). A flat 0.3 per district let a big
    province outweigh the plate's city: 鄂A left 武汉 17 % and 62 of 406 prefixes named a bigger
    city of the same province."""
    own = sum(int(index.district_mask(c).sum()) for c in plate.cities)
    rest = int(index.district_mask(plate.province).sum()) - own
    if own <= 0 or rest <= 0:
        return PROVINCE_BACKGROUND
    return min(PROVINCE_BACKGROUND, PROVINCE_BACKGROUND * own / rest)


def plate_clues(text: str, knowledge: Knowledge, index: RegionIndex,
                span_id: str | None = None) -> list[Clue]:
    variants = {read for position, read in knowledge.plate_confusions if position == "province"}
    province_chars = "".join(sorted({p[0] for p in knowledge.plates} | variants))
    folded = upper_ascii(fold_width(text))  # same length as text: spans index both
    clues = []
    for match in _pattern(province_chars).finditer(folded):
        raw = text[match.start():match.end()]
        reading = read_plate(match, raw, knowledge)
        if reading is None:
            continue
        plate = knowledge.plates.get(reading.prefix)
        if plate is None:
            continue
        # a prefix shared by several cities (琼C: five counties) supports each of them fully:
        # fusion spreads the clue's mass over all of them, and population splits it
        regions = [RegionSupport(level="city", adcode=c.adcode, name=index.label(c),
                                 weight=1.0) for c in plate.cities]
        regions.append(RegionSupport(level="province", adcode=plate.province.adcode,
                                     name=plate.province.name,
                                     weight=province_background(plate, index)))
        cities = "、".join(c.name for c in plate.cities)
        read_as = (f"; read {raw!r} as {reading.prefix}·{reading.serial} ({', '.join(reading.corrections)})"
                   if reading.corrections else "")
        clues.append(Clue(
            kind=ClueKind.PLATE, text=raw, span_id=span_id,
            confidence=reading.confidence, strength=0.7, regions=regions,
            detail=f"plate prefix {reading.prefix} is registered in {cities} ({plate.province.name})"
                   + (f"; {plate.note}" if plate.note else "") + read_as,
            source=plate.source + ("; plate_ocr_confusions.csv" if reading.corrections else "")))
    return clues
