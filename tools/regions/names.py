"""Pure helpers for Chinese administrative names: short forms, pinyin aliases, normalisation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Longest first: 新疆维吾尔自治区 must lose 维吾尔自治区, not just 自治区.
_PROVINCE_SUFFIXES = (
    "维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市",
)
_CITY_SUFFIXES = ("自治州", "自治县", "地区", "林区", "盟", "市", "县")
_DISTRICT_SUFFIXES = ("自治县", "自治旗", "特区", "林区", "新区", "区", "县", "市", "旗")

# Ethnic designations that prefix 自治州 / 自治县 (longest first, applied repeatedly).
_ETHNIC = (
    "哈萨克", "柯尔克孜", "塔吉克", "锡伯", "蒙古", "朝鲜", "布依", "土家", "傈僳", "仡佬",
    "毛南", "仫佬", "拉祜", "纳西", "哈尼", "普米", "独龙", "怒", "达斡尔", "鄂温克", "鄂伦春",
    "满", "回", "藏", "苗", "彝", "壮", "侗", "瑶", "白", "傣", "黎", "畲", "水", "羌", "景颇",
    "佤", "撒拉", "保安", "东乡", "裕固", "土", "各",
)

_LEVEL_SUFFIXES = {
    "province": _PROVINCE_SUFFIXES,
    "city": _CITY_SUFFIXES,
    "district": _DISTRICT_SUFFIXES,
}


def normalize(text: str) -> str:
    """NFKC, no spaces or middle dots, lower case: the key every name lookup uses."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\s·•・\-_'’]", "", text)
    return text.lower()


def _strip_ethnic(stem: str) -> str:
    changed = True
    while changed and stem:
        changed = False
        for suffix in ("族",):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                changed = True
        for ethnic in _ETHNIC:
            if stem.endswith(ethnic) and len(stem) - len(ethnic) >= 2:
                stem = stem[: -len(ethnic)]
                changed = True
                break
    return stem


def short_name(name: str, level: str) -> str:
    """杭州市 → 杭州, 内蒙古自治区 → 内蒙古, 延边朝鲜族自治州 → 延边, 石柱土家族自治县 → 石柱.

    Returns the name itself when stripping would leave fewer than two characters
    (城区, 郊区 and 矿区 stay as they are).
    """
    for suffix in _LEVEL_SUFFIXES[level]:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("自治"):
                stem = _strip_ethnic(stem)
            return stem if len(stem) >= 2 else name
    return name


@lru_cache(maxsize=8192)
def pinyin_key(chinese: str) -> str:
    """杭州 → hangzhou (toneless, no separators)."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(chinese)).lower()


def aliases(name: str, level: str) -> set[str]:
    """Every normalised key under which a region is found by name."""
    short = short_name(name, level)
    keys = {normalize(name), normalize(short)}
    if re.fullmatch(r"[\u4e00-\u9fff]+", short):
        keys.add(pinyin_key(short))
    return {k for k in keys if k}
