"""Telephone numbers → the province and city of their area code or mobile block (phonenumbers).

Valid numbers (full-width digits, separators, extensions and 400/800 service numbers included)
are phonenumbers' own matches. A landline read with one digit too many or too few is not valid,
but its area code still places it: Chinese area codes form a prefix code (no code is the start of
another; ``test_area_codes_are_a_prefix_code`` checks it against the metadata), so the code is
read off the front when it is written apart (``0351-26957224``, ``(021)5555555``) or, unseparated,
when the line says it is a phone number (电话, TEL) and exactly one split fits. Area codes, their
subscriber lengths and places come from phonenumbers' metadata, not a hand-typed table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.clues.textfold import fold_width
from sinoloc.tools.regions import Level, Region

SOURCE = "phonenumbers (libphonenumber) geocoding data"
_LANDLINE = {PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
LANDLINE_CONFIDENCE = 0.95
EXTENSION_CONFIDENCE = 0.9  # a valid number followed by a dash group read as its extension
WRONG_LENGTH_CONFIDENCE = 0.6  # one digit too many or too few: the area code only
_SEP = " .·–—−-"  # "-" last: literal inside a character class
# an area-code-like group (0 + 2 or 3 digits, maybe in brackets) and up to three digit groups
_LANDLINE_LIKE = re.compile(
    rf"(?<![0-9A-Za-z])(?<![0-9]\.)(\(?)(0[0-9]{{2,3}})(\)?)((?:[{_SEP}]{{0,2}}[0-9]+){{1,3}})(?![0-9A-Za-z])")
_PHONE_WORDS = re.compile(r"电话|电 话|手机|座机|热线|传真|联系|订餐|订座|咨询|TEL|FAX|PHONE|☎|📞|☏", re.I)


@dataclass(frozen=True)
class AreaCode:
    code: str  # with the trunk prefix: 0351
    lengths: frozenset[int]  # subscriber lengths the metadata allows
    description: str  # 山西省太原市 (geocoder, zh)


@lru_cache(maxsize=2048)
def area_code(digits: str) -> AreaCode | None:
    """The area code ``0`` + ``digits`` (2 or 3 digits), if the metadata has one: a synthetic
    fixed-line number with that code must be valid and phonenumbers must split it there."""
    from phonenumbers import geocoder

    lengths, description = set(), ""
    for length in (6, 7, 8):
        for first in "2345678":
            number = phonenumbers.parse(f"0{digits}{first}{'1234567'[:length - 1]}", "CN")
            if (phonenumbers.is_valid_number(number)
                    and phonenumbers.number_type(number) in _LANDLINE
                    and phonenumbers.length_of_geographical_area_code(number) == len(digits)):
                lengths.add(length)
                description = description or geocoder.description_for_number(number, "zh")
    return AreaCode(f"0{digits}", frozenset(lengths), description) if lengths else None


def description_regions(description: str, gazetteer: Gazetteer) -> list[Region]:
    """'四川省成都市、资阳市、眉山市' → [成都市, 资阳市, 眉山市]; '北京市' → [北京市 (city)]."""
    pieces = [p for p in description.split("、") if p]
    if not pieces:
        return []
    first = gazetteer.resolve(pieces[0])
    if first is None:
        return []
    regions = [first.region]
    province = gazetteer.index.province_of(first.region)
    for piece in pieces[1:]:
        found = gazetteer.index.lookup(piece, level=Level.CITY, within=province)
        regions.extend(found[:1])
    if len(regions) == 1 and first.region.level is Level.PROVINCE:
        cities = gazetteer.index.children(first.region)
        if len(cities) == 1:  # municipalities: 北京市 the province is 北京市 the city
            regions = cities
    return regions


def _landline_support(regions: list[Region], gazetteer: Gazetteer) -> list[RegionSupport]:
    index = gazetteer.index
    return [RegionSupport(level=r.level.value, adcode=r.adcode, name=index.label(r), weight=1.0)
            for r in regions]


def phone_clues(text: str, gazetteer: Gazetteer, span_id: str | None = None) -> list[Clue]:
    clues = []
    rest = text
    for match in phonenumbers.PhoneNumberMatcher(text, "CN", leniency=phonenumbers.Leniency.VALID):
        # the geocoding data takes about half a second to import: loaded when a number is
        # found, so the many images without one never pay for it
        from phonenumbers import geocoder

        rest = rest[:match.start] + "□" * (match.end - match.start) + rest[match.end:]
        number = match.number
        kind = phonenumbers.number_type(number)
        description = geocoder.description_for_number(number, "zh")
        regions = description_regions(description, gazetteer) if description else []
        if not regions:
            clues.append(Clue(
                kind=ClueKind.PHONE, text=match.raw_string, span_id=span_id, confidence=0.9,
                strength=0.0, detail=f"{match.raw_string}: nationwide or unplaced number "
                f"({description or 'no area'})", source=SOURCE))
            continue
        landline = kind in _LANDLINE
        # A business's landline is almost always local; a mobile number's block only says where
        # the SIM was issued.
        strength = 0.93 if landline else 0.6
        index = gazetteer.index
        label = "、".join(index.label(r) for r in regions)
        clues.append(Clue(
            kind=ClueKind.PHONE, text=match.raw_string, span_id=span_id,
            confidence=LANDLINE_CONFIDENCE if landline else 0.8, strength=strength,
            regions=_landline_support(regions, gazetteer),
            detail=(f"{'landline area code' if landline else 'mobile number block'} "
                    f"{match.raw_string} → {label}"),
            source=SOURCE))
    return clues + _misread_landline_clues(rest, gazetteer, span_id)


@dataclass(frozen=True)
class LandlineReading:
    area: AreaCode
    subscriber: str
    extension: str
    confidence: float
    why: str


def _fits(area: AreaCode, subscriber: str) -> str | None:
    """'valid' / 'one digit too many' / 'one digit too few' / None for a subscriber number."""
    if not subscriber or subscriber[0] in "01":  # subscriber numbers start with 2–9
        return None
    n = len(subscriber)
    if n in area.lengths:
        return "valid"
    if n - 1 in area.lengths:
        return "one digit too many"
    if n + 1 in area.lengths:
        return "one digit too few"
    return None


def read_landline(candidate: str, phone_words: bool) -> LandlineReading | None:
    """The area code of a landline-like digit string that phonenumbers did not accept.

    ``candidate`` is one match of the landline pattern (ASCII digits). Written apart, its first
    group is the area code and must be one; run together, the line must name a phone and exactly
    one of the two possible splits (0 + 2 or 3 digits) must give an area code and a subscriber
    number one digit off.
    """
    match = _LANDLINE_LIKE.fullmatch(candidate)
    if match is None:
        return None
    bracket, code, closing, tail = match.groups()
    groups = re.findall(r"[0-9]+", tail)
    separated = bool(closing) or tail[0] in _SEP
    if bracket and not closing:
        return None
    if separated:
        area = area_code(code[1:])
        if area is None:
            return None
        splits = [(area, groups)]
    else:
        if not phone_words:
            return None  # a bare run of digits (an order or ID number) is not a phone
        digits = code + "".join(groups)
        splits = [(a, [digits[1 + k:]]) for k in (2, 3) if (a := area_code(digits[1:1 + k]))]
    readings = [r for area, parts in splits if (r := _reading(area, parts)) is not None]
    return readings[0] if len(readings) == 1 else None


def _reading(area, parts: list[str]) -> LandlineReading | None:
    """The subscriber groups ``parts`` after ``area`` as a number one digit off, or a valid
    number with a short extension; None when neither."""
    subscriber = "".join(parts)
    fit = _fits(area, subscriber)
    if fit and fit != "valid":
        return LandlineReading(area, subscriber, "", WRONG_LENGTH_CONFIDENCE, fit)
    if fit is None and len(parts) >= 2 and len(parts[-1]) <= 4 \
            and _fits(area, "".join(parts[:-1])) == "valid":
        return LandlineReading(area, "".join(parts[:-1]), parts[-1], EXTENSION_CONFIDENCE,
                               f"extension {parts[-1]}")
    return None


def _misread_landline_clues(text: str, gazetteer: Gazetteer, span_id: str | None) -> list[Clue]:
    folded = fold_width(text)  # same length as text: spans index both
    phone_words = bool(_PHONE_WORDS.search(folded))
    clues = []
    for match in _LANDLINE_LIKE.finditer(folded):
        reading = read_landline(match.group(0), phone_words)
        if reading is None or not reading.area.description:
            continue
        regions = description_regions(reading.area.description, gazetteer)
        if not regions:
            continue
        raw = text[match.start():match.end()]
        label = "、".join(gazetteer.index.label(r) for r in regions)
        lengths = "/".join(str(n) for n in sorted(reading.area.lengths))
        clues.append(Clue(
            kind=ClueKind.PHONE, text=raw, span_id=span_id, confidence=reading.confidence,
            strength=0.93, regions=_landline_support(regions, gazetteer),
            detail=(f"landline area code {reading.area.code} → {label}; {raw} is not a valid number "
                    f"as read ({reading.why}: {len(reading.subscriber)} digits after the code, "
                    f"{reading.area.code} numbers have {lengths})"),
            source=SOURCE))
    return clues
