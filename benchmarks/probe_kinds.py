"""Probe kinds of what a sign implies rather than says (issue 28): a university's or college's
name, a postcode, a provincial ETC card, a regional bank, a welcome sign.

Every probe is drawn from a cited public table, never typed here: institutions from the MoE list
(``universities.csv``; half of them, where a province has such, are names that contain *another*
place than their campus city, 中山大学 or 河北工业大学, the class of sign that misleads a literal
reader), postcodes from the per-county postcode table (``postcodes.csv``: a four-digit prefix of
the province and two random digits), ETC cards and banks from the clue corpus's cited rows, and
welcome signs from the region index (a city or district of the province, full or short name). The
truth is what the source says: the institution's 所在地, the prefix's city (the one holding most
of its counties), the card's province, the bank's home, the welcomed region.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinoloc.benchmarks.probe_data import _Ask, _Context
    from sinoloc.tools.regions import Region

READ_KINDS = ("university", "postcode", "etc_card", "bank", "welcome")
_UNIVERSITY_SIGNS = ("{}", "{}东门", "{}图书馆", "{}附属中学")
_POSTCODE_LINES = ("邮编：{}", "邮政编码 {}", "邮编:{}")
_CARD_SIGNS = ("{}办理点", "本网点可办理{}", "{} 充值 圈存", "{}客户服务网点")
_BANK_BRANCHES = ("营业部", "{}支行", "自助银行")
_WELCOMES = ("{}欢迎您", "欢迎您来到{}", "欢迎莅临{}")


def _top(regions: list[tuple[Region, float]]) -> Region:
    """The region a cited row names first at full weight (the main campus, the home city)."""
    return max(regions, key=lambda rw: rw[1])[0]


@lru_cache(maxsize=1)
def _region_names(index) -> dict[str, list[Region]]:
    """Every region's full and short name (two characters or more) → the regions so named."""
    names: dict[str, list[Region]] = {}
    for full, region in index.names():
        for piece in {full, region.short}:
            if len(piece) >= 2:
                names.setdefault(piece, []).append(region)
    return names


def _university_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    from sinoloc.tools.knowledge.kinds import get_kinds

    index = ctx.index
    here = sorted((i for i in get_kinds().institutions.values()
                   if i.pattern == i.name and "（" not in i.name and "(" not in i.name
                   and index.province_of(_top(list(i.regions))).adcode == ask.province.adcode),
                  key=lambda i: i.name)

    def elsewhere(name: str, campus: Region) -> bool:
        """Whether a literal reader finds another region's name (full or short) in ``name``:
        plain substrings, not the gazetteer, which now segments 中山 out of 中山大学."""
        return any(not (index.is_within(campus, r) or index.is_within(r, campus))
                   for piece, regions in _region_names(index).items() if piece in name
                   for r in regions)

    misleading = [i for i in here if elsewhere(i.name, _top(list(i.regions)))]
    pool, variant = (misleading, "named_elsewhere") if misleading and rng.random() < 0.5 \
        else (here, "any")
    chosen = rng.choice(pool)
    campus = _top(list(chosen.regions))
    return [dict(variant=variant, sign=[rng.choice(_UNIVERSITY_SIGNS).format(chosen.name)],
                 key=chosen.name, truth=ctx.truth(campus),
                 note=f"MoE 所在地 {index.label(campus)}; {chosen.source}")]


def _postcode_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    from sinoloc.tools.knowledge.kinds import get_kinds

    prefixes = sorted((prefix, regions) for prefix, regions in get_kinds().postcodes.items()
                      if len(prefix) == 4
                      and ctx.index.province_of(_top(list(regions))).adcode == ask.province.adcode)
    if not prefixes:
        return []
    prefix, regions = rng.choice(prefixes)
    code = f"{prefix}{rng.randint(0, 99):02d}"
    city = _top(list(regions))
    shared = [ctx.index.label(r) for r, _ in regions if r.key != city.key]
    return [dict(variant="prefix", key=code, truth=ctx.truth(city),
                 sign=[ask.shop, f"地址：{rng.choice(ctx.roads)}{rng.randint(1, 399)}号",
                       rng.choice(_POSTCODE_LINES).format(code)],
                 note=f"prefix {prefix} also serves {'、'.join(shared)}" if shared else "")]


def _corpus_row(prefix: str, province: Region, rng: random.Random):
    """A cited corpus row (an ETC card, a bank) whose main region lies in ``province``, with
    that region; None where the province has none."""
    from sinoloc.tools.knowledge.corpus import get_corpus

    corpus = get_corpus()
    rows = [(entry, _top(corpus.regions(entry))) for entry in corpus.entries
            if entry.id.startswith(prefix) and entry.patterns]
    rows = [(e, top) for e, top in rows if corpus.index.province_of(top).adcode == province.adcode]
    return rng.choice(rows) if rows else None


def _etc_card_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    row = _corpus_row("etc-card-", ask.province, rng)
    if row is None:
        return []
    card = rng.choice(row[0].patterns)
    return [dict(variant="card", sign=[rng.choice(_CARD_SIGNS).format(card)], key=card,
                 truth=ctx.truth(row[1]), note=f"{row[0].id}: {row[0].source}")]


def _bank_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    row = _corpus_row("bank-", ask.province, rng)
    if row is None:
        return []
    name = rng.choice(row[0].patterns)
    name = name if "银行" in name or "銀行" in name else f"{name}银行"
    branch = rng.choice(_BANK_BRANCHES).format(rng.choice(ctx.roads).removesuffix("路"))
    return [dict(variant="bank", sign=[name, branch], key=name[:4], truth=ctx.truth(row[1]),
                 note=f"{row[0].id}: {row[0].source}")]


def _welcome_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    city = rng.choice(ctx.cities(ask.province))
    districts = ctx.districts(city)
    region = rng.choice(districts) if districts and rng.random() < 0.5 else city
    name = region.short if len(region.short) >= 2 and rng.random() < 0.5 else region.name
    return [dict(variant=f"{region.level.value}-{'full' if name == region.name else 'short'}",
                 sign=[rng.choice(_WELCOMES).format(name)], key=name, truth=ctx.truth(region))]


READ_MAKERS = {"university": _university_probes, "postcode": _postcode_probes,
               "etc_card": _etc_card_probes, "bank": _bank_probes, "welcome": _welcome_probes}
