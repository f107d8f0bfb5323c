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


Fix = tuple[str, float]  # a correction as shown to people, and what it takes off the confidence


def _fix_province(province: str, knowledge: Knowledge) -> tuple[str, list[Fix]] | None:
    """The province abbreviation, or the one simplified form a traditional or misread character
    stands for; None when no single abbreviation fits."""
    if province in {p[0] for p in knowledge.plates}:
        return province, []
    rows = knowledge.plate_confusions.get(("province", province), ())
    if len(rows) != 1:
        return None
    return rows[0].meant, [(f"{province}→{rows[0].meant}", PENALTY["province"])]


def _fix_letter(province: str, letter: str, laid_out: bool,
                knowledge: Knowledge) -> tuple[str, list[Fix]] | None:
    """The issuing letter. A digit (or O) where the letter goes is the same-shaped letter, if
    only one fits this province, and only in a plate laid out as one (a separator before the
    serial): elsewhere it is more likely not a plate at all."""
    if letter in PLATE_LETTERS:
        return letter, []
    fits = [r.meant for r in knowledge.plate_confusions.get(("letter", letter), ())
            if province + r.meant in knowledge.plates]
    if len(fits) != 1 or not laid_out:
        return None
    return fits[0], [(f"{letter}→{fits[0]} (letter)", PENALTY["letter"])]


def _fix_serial(serial: str, knowledge: Knowledge) -> tuple[str, list[Fix]] | None:
    """The serial with characters the standard rules out read back (O → 0, I → 1); None when
    one has no single reading or more than ``MAX_SERIAL_CORRECTIONS`` need one, since a
    reading that far from a plate is guesswork."""
    fixed: list[str] = []
    fixes: list[Fix] = []
    for char in serial:
        if char in PLATE_SERIAL_CHARS or char in _SPECIAL:
            fixed.append(char)
            continue
        rows = knowledge.plate_confusions.get(("serial", char), ())
        if len(rows) != 1:
            return None
        fixed.append(rows[0].meant)
        fixes.append((f"{char}→{rows[0].meant} (serial)", PENALTY["serial"]))
    if len(fixes) > MAX_SERIAL_CORRECTIONS:
        return None
    return "".join(fixed), fixes


def _plate_shaped(serial_as_read: str, serial: str, laid_out: bool) -> bool:
    """Whether the corrected serial has a plate's shape, and the text looked like a plate before
    correction: letters only as read (京ABOUTS) count only when laid out as a plate, since a
    plate's digits must be read, or its layout."""
    if not _serial_shape_ok(serial):
        return False
    return any(c.isdigit() for c in serial_as_read) or laid_out


def _penalty(fixes: list[Fix]) -> float:
    """What the corrections take off, added in the order they were made (float sums depend on it)."""
    penalty = 0.0
    for _, cost in fixes:
        penalty += cost
    return penalty


def read_plate(match: re.Match, raw: str, knowledge: Knowledge) -> PlateReading | None:
    """The plate a regex match stands for, or None when the standard rules the reading out."""
    province, sep1, letter, sep2, serial = match.groups()
    read_province = _fix_province(province, knowledge)
    if read_province is None:
        return None
    read_letter = _fix_letter(read_province[0], letter, bool(sep2), knowledge)
    read_serial = _fix_serial(serial, knowledge)
    if read_letter is None or read_serial is None:
        return None
    if not _plate_shaped(serial, read_serial[0], bool(sep1 or sep2)):
        return None
    fixes = read_province[1] + read_letter[1] + read_serial[1]
    if fold_width(raw) != raw or upper_ascii(raw) != raw:
        fixes.append(("full-width or lower-case characters", PENALTY["fold"]))
    return PlateReading(read_province[0] + read_letter[0], read_serial[0],
                        tuple(c for c, _ in fixes), round(CONFIDENCE - _penalty(fixes), 2))


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
