"""Telephone numbers → the province and city of their area code or mobile block (phonenumbers)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from ..regions import Level, Region
from .gazetteer import Gazetteer
from .schema import Clue, ClueKind, RegionSupport

SOURCE = "phonenumbers (libphonenumber) geocoding data"
_LANDLINE = {PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


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


def phone_clues(text: str, gazetteer: Gazetteer, span_id: str | None = None) -> list[Clue]:
    # the geocoding data takes about a second to import: loaded on first use (the CLI's
    # warm-up thread does it while the graph is built), not when the module is imported
    from phonenumbers import geocoder

    clues = []
    for match in phonenumbers.PhoneNumberMatcher(text, "CN", leniency=phonenumbers.Leniency.VALID):
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
            confidence=0.95 if landline else 0.8, strength=strength,
            regions=[RegionSupport(level=r.level.value, adcode=r.adcode, name=index.label(r),
                                   weight=1.0) for r in regions],
            detail=(f"{'landline area code' if landline else 'mobile number block'} "
                    f"{match.raw_string} → {label}"),
            source=SOURCE))
    return clues
