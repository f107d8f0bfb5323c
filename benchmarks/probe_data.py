"""The probe set: one clue (or two) per probe, for every mainland province, with its ground truth.

Nothing here is typed by hand that a shipped table already knows: area codes, plate prefixes,
towns and villages come from the tables of :mod:`.probe_tables`, regions and their representative
points from the RegionIndex. Generation is deterministic for a seed and renders nothing, so a test
can check coverage cheaply.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from pydantic import BaseModel, Field, field_validator

from sinoloc.benchmarks.probe_kinds import READ_KINDS, READ_MAKERS
from sinoloc.benchmarks.probe_names import NAME_KINDS, NAME_MAKERS
from sinoloc.benchmarks.probe_tables import (
    Place,
    area_codes,
    format_plate,
    landline_number,
    load_places,
    plate_prefixes,
    plate_serial,
)

if TYPE_CHECKING:
    from sinoloc.tools.regions import Region

LITERAL_KINDS = ("address", "landline", "landline_long", "plate", "plate_confusable", "town",
                 "village", "agree", "conflict")
KINDS: tuple[str, ...] = LITERAL_KINDS + READ_KINDS + NAME_KINDS
MAINLAND = 31
# Neutral words for shop names and roads (filtered against region names at generation time, so a
# word that happens to be a place name never becomes an unintended clue).
SHOPS = ("便民超市", "鑫源五金", "家常菜馆", "宏达建材", "平价药房", "阳光文具", "老王面馆", "兴旺烟酒",
         "明亮眼镜", "快捷打印", "美发沙龙", "鲜果坊")
ROADS = ("建设路", "解放路", "和平路", "胜利路", "文化路", "幸福路", "团结路", "光明路", "工农路", "育才路",
         "健康路", "民主路")
_T = TypeVar("_T")


def _given(value: _T | None, what: str) -> _T:
    """``value``, which the data behind a probe guarantees; a clear error names it if the data changed."""
    if value is None:
        raise ValueError(f"probe data: no {what}")
    return value


class Truth(BaseModel):
    """Where the probe's clue points: the finest level it names, and that region's point."""

    level: str = Field(description="province | city | district: the finest level the clue names")
    province_adcode: str
    province: str
    city_adcode: str | None = None
    city: str | None = None
    district_adcode: str | None = None
    district: str | None = None
    lat: float = Field(description="WGS-84 representative point of the finest region named")
    lon: float


class Probe(BaseModel):
    id: str
    kind: str
    variant: str = Field(description="capital | other | …: which city of the province the clue names")
    sign: list[str] = Field(default_factory=list, description="lines of the shop / guide sign")
    plate: str | None = Field(default=None, description="a licence plate drawn apart from the sign")
    key: str = Field(description=(
        "text that evidence citing the clue contains (area code, plate prefix, name)"))
    truth: Truth
    note: str = ""
    seed: int = Field(description="seed of the picture (background, colours, placement)")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown probe kind {value!r}")
        return value


# ---------------------------------------------------------------- generation
class _Context:
    """Shared lookups of one generation run."""

    def local_landline(self, ask: _Ask, rng: random.Random) -> tuple[str, str, Region]:
        return _local_landline(self, ask, rng)

    def __init__(self):
        from sinoloc.tools.regions import get_region_index

        self.index = get_region_index()
        self.provinces = sorted((p for p in self.index.provinces() if p.kind in ("regular", "municipality")),
                                key=lambda p: p.adcode)
        words = {w for _, r in self.index.names() for w in (r.name, r.short) if len(w) >= 2}
        self.shops = [s for s in SHOPS if not any(w in s for w in words)]
        self.roads = [r for r in ROADS if not any(w in r for w in words)]
        self.codes = area_codes()
        self.plates = plate_prefixes()
        self.places: dict[tuple[str, str], list[Place]] = defaultdict(list)
        for place in load_places():
            self.places[(place.province_adcode, place.kind)].append(place)

    def cities(self, province) -> list:
        return sorted(self.index.children(province), key=lambda c: c.adcode)

    def capital(self, province):
        return self.cities(province)[0]

    def region(self, adcode: str, level: str) -> Region:
        return _given(self.index.get(adcode, level), f"{level} {adcode} in the region index")

    def truth(self, region) -> Truth:
        ix = self.index
        province = ix.province_of(region)
        city = ix.city_of(region) if region.level.value != "province" else None
        district = region if region.level.value == "district" else None
        return Truth(level=region.level.value, province_adcode=province.adcode, province=province.name,
                     city_adcode=city.adcode if city else None, city=city.name if city else None,
                     district_adcode=district.adcode if district else None,
                     district=district.name if district else None, lat=region.lat, lon=region.lon)

    def code_of(self, city, rng: random.Random, single: bool) -> tuple[str, tuple[str, ...]] | None:
        codes = self.codes.get(city.adcode, [])
        if single:
            codes = [c for c in codes if len(c[1]) == 1]
        return rng.choice(codes) if codes else None

    def area_code(self, city, rng: random.Random, single: bool) -> tuple[str, tuple[str, ...]]:
        return _given(self.code_of(city, rng, single), f"area code of {city.name}")

    def districts(self, city) -> list:
        return sorted((d for d in self.index.children(city) if d.name != city.name), key=lambda d: d.adcode)

    def address(self, district, rng: random.Random, with_province: bool) -> str:
        ix = self.index
        province = ix.province_of(district)
        city = _given(ix.city_of(district), f"city of {district.name}")
        head = province.name if with_province and province.name != city.name else ""
        return f"{head}{city.name}{district.name}{rng.choice(self.roads)}{rng.randint(1, 399)}号"


def _landline(code: str, rng: random.Random, too_long: bool = False) -> str:
    return _given(landline_number(code, rng, too_long), f"landline number in 0{code}")


def _phone_line(number: str, rng: random.Random) -> str:
    return rng.choice(("电话：", "电话 ", "TEL ", "联系电话：")) + number


def _coded_city(ctx: _Context, province, rng: random.Random, exclude: tuple[str, ...] = ()):
    """A non-capital city of the province with an area code of its own (None for municipalities)."""
    cities = [c for c in ctx.cities(province)[1:] if c.adcode not in exclude
              and ctx.code_of(c, rng, single=True) and ctx.districts(c)]
    return rng.choice(cities) if cities else None


class _Ask(NamedTuple):
    """What every kind's maker gets for one (province, kind): drawn once in :func:`_probes_for`."""

    province: Region
    capital: Region
    shop: str
    kind: str


def _variant(city: Region, capital: Region) -> str:
    return "capital" if city == capital else "other"


def _address_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """A full postal address (province, city, district, road): the address resolver's clue."""
    city = rng.choice([c for c in ctx.cities(ask.province) if ctx.districts(c)])
    district = rng.choice(ctx.districts(city))
    return [dict(variant=_variant(city, ask.capital),
                 sign=[ask.shop, ctx.address(district, rng, with_province=True)],
                 key=district.name, truth=ctx.truth(district))]


def _landline_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """The capital's landline and (``landline`` only) another city's with a code of its own;
    ``landline_long`` has one digit too many, which phonenumbers rejects."""
    variants = [("capital", ask.capital)]
    if ask.kind == "landline":
        other = _coded_city(ctx, ask.province, rng)
        if other is not None:
            variants.append(("other", other))
    out: list[dict] = []
    for variant, city in variants:
        code, covered = ctx.area_code(city, rng, single=variant != "capital")
        number = _landline(code, rng, too_long=ask.kind == "landline_long")
        shared = [ctx.region(a, "city").name for a in covered[1:] if a]
        out.append(dict(variant=variant, sign=[ask.shop, _phone_line(number, rng)], key=f"0{code}",
                        truth=ctx.truth(city),
                        note=f"area code 0{code} also covers {'、'.join(shared)}" if shared else ""))
    return out


def _plate_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """The capital's plate (prefix ending in A) and (``plate`` only) another city's; the
    ``plate_confusable`` serial carries an O or I where OCR misreads 0 or 1."""
    prefixes = ctx.plates[ask.province.adcode]
    capital_prefix = next(p for p in prefixes if p[0].endswith("A"))
    variants = [("capital", capital_prefix)]
    if ask.kind == "plate":
        others = [p for p in prefixes if not p[0].endswith("A")]
        variants.append(("other", rng.choice(others)))
    out: list[dict] = []
    for variant, (prefix, city_adcode) in variants:
        plate = format_plate(prefix, plate_serial(rng, confusable=ask.kind == "plate_confusable"), rng)
        out.append(dict(variant=variant, plate=plate, key=prefix,
                        truth=ctx.truth(ctx.index.get(city_adcode, "city"))))
    return out


def _place_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """A town's or village's own sign (government, welcome, direction): the gazetteer's clue,
    true to the county."""
    place = rng.choice(ctx.places[(ask.province.adcode, ask.kind)])
    if ask.kind == "town":
        sign = rng.choice(([f"{place.name}人民政府"], [f"欢迎来到{place.name}"],
                           [f"→ {place.name} 5 km"]))
    else:
        sign = rng.choice(([f"{place.name}村民委员会"], [f"{place.name}欢迎您"]))
    return [dict(variant=place.county, sign=sign, key=place.name,
                 truth=ctx.truth(ctx.index.get(place.county_adcode, "district")),
                 note=f"{place.town}, {place.county}")]


def _local_code(ctx: _Context, ask: _Ask, rng: random.Random) -> tuple[Region, str]:
    """A city with an area code (another city where one has its own, else the capital) and that
    code: the landline of the two-clue kinds."""
    city = _coded_city(ctx, ask.province, rng) or ask.capital
    code, _ = ctx.code_of(city, rng, single=city != ask.capital) or ctx.area_code(city, rng, single=False)
    return city, code


def _local_landline(ctx: _Context, ask: _Ask, rng: random.Random) -> tuple[str, str, Region]:
    """(phone line, key, city) of a local landline: for kinds of other modules (``ctx.local_landline``),
    which cannot import this one (it imports them to register their kinds)."""
    city, code = _local_code(ctx, ask, rng)
    return _phone_line(_landline(code, rng), rng), f"0{code}", city


def _agree_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """An address and a landline of the same city: two clues that agree."""
    city, code = _local_code(ctx, ask, rng)
    district = rng.choice(ctx.districts(city))
    return [dict(variant=_variant(city, ask.capital),
                 sign=[ask.shop, ctx.address(district, rng, with_province=False),
                       _phone_line(_landline(code, rng), rng)],
                 key=district.name, truth=ctx.truth(district))]


def _conflict_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """A local landline on the sign and a plate from another province: the truth is the sign's."""
    city, code = _local_code(ctx, ask, rng)
    elsewhere = rng.choice([p for p in ctx.provinces if p.adcode != ask.province.adcode])
    prefix, plate_city = rng.choice(ctx.plates[elsewhere.adcode])
    plate = format_plate(prefix, plate_serial(rng), rng)
    return [dict(variant=_variant(city, ask.capital),
                 sign=[ask.shop, _phone_line(_landline(code, rng), rng)], plate=plate,
                 key=f"0{code}", truth=ctx.truth(city),
                 note=f"plate {prefix} names {ctx.index.label(ctx.region(plate_city, 'city'))}; "
                      "the truth is the sign's landline (a business is local, cars travel)")]


_MAKERS: dict[str, Callable[[_Context, _Ask, random.Random], list[dict]]] = {
    "address": _address_probes, "landline": _landline_probes, "landline_long": _landline_probes,
    "plate": _plate_probes, "plate_confusable": _plate_probes, "town": _place_probes,
    "village": _place_probes, "agree": _agree_probes, "conflict": _conflict_probes, **READ_MAKERS,
    **NAME_MAKERS,
}


def _probes_for(ctx: _Context, province, kind: str, rng: random.Random) -> list[dict]:
    """Specs (without seed) of the probes of one kind in one province. The shop name is drawn
    first for every kind (used or not), so each kind's random stream, and with it the probe
    set of a seed, stays what it has always been."""
    capital = ctx.capital(province)
    shop = rng.choice(ctx.shops)
    maker = _MAKERS.get(kind)
    out = maker(ctx, _Ask(province, capital, shop, kind), rng) if maker else []
    short = province.adcode[:2]
    for spec in out:
        spec["id"] = f"{kind}-{short}-{spec['variant'] if kind not in ('town', 'village') else 'x'}"
    return out


def generate_probes(seed: int = 0, kinds: tuple[str, ...] | list[str] | None = None) -> list[Probe]:
    """Every kind (default: all of KINDS, the registered ones included) for every mainland
    province, interleaved (kind by kind, provinces in a seeded order) so that the first N probes
    of the list cover all kinds and many provinces."""
    kinds = KINDS if kinds is None else kinds
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown probe kinds: {sorted(unknown)}")
    ctx = _Context()
    by_kind: dict[str, list[Probe]] = {}
    for kind in kinds:
        probes: list[Probe] = []
        order = list(ctx.provinces)
        random.Random(f"{seed}-{kind}-order").shuffle(order)
        for province in order:
            rng = random.Random(f"{seed}-{kind}-{province.adcode}")
            for spec in _probes_for(ctx, province, kind, rng):
                probes.append(Probe(kind=kind, seed=rng.randint(0, 2**31 - 1), **spec))
        by_kind[kind] = probes
    interleaved: list[Probe] = []
    for i in range(max((len(v) for v in by_kind.values()), default=0)):
        interleaved.extend(v[i] for v in by_kind.values() if i < len(v))
    return interleaved


# kinds of other modules, registered last: their makers take the context above
from sinoloc.benchmarks.probe_guide import MAKERS as _GUIDE  # noqa: E402

KINDS += tuple(_GUIDE)
_MAKERS.update(_GUIDE)
