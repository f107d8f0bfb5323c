"""A prior with no training: a CLIP-type model's image embedding scored against text prompts
per province and per city (``prompts/prior_zero_shot.md``).

It is built as an ordinary checkpoint: the prompts' normalised text embeddings, times CLIP's
logit scale, become the province and city heads over the normalised image embedding, and the
district head is zero (uniform within each city: CLIP is not asked about 2875 districts). At run
time only the vision tower is loaded, and the same top-down decoding applies.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sinoloc.prompts import load_prompt
from sinoloc.tools.prior import PriorUnavailable
from sinoloc.tools.prior.checkpoint import PriorCheckpoint, backbone_reference, write_checkpoint
from sinoloc.tools.prior.labels import LabelSpace
from sinoloc.tools.prior.model import CLIP_EMBEDS, quiet_loading
from sinoloc.tools.prior.preprocess import Preprocessing
from sinoloc.tools.regions import Level, RegionIndex, get_region_index

UNCALIBRATED_FUSION_WEIGHT = 0.5  # until `prior evaluate --calibrate` fits a temperature


def prompt_templates() -> dict[str, list[str]]:
    templates: dict[str, list[str]] = {"province": [], "city": []}
    for line in load_prompt("prior_zero_shot").splitlines():
        level, sep, text = line.partition(":")
        if sep and level.strip() in templates and not line.startswith("#"):
            templates[level.strip()].append(text.strip())
    if not templates["province"] or not templates["city"]:
        raise ValueError("prior_zero_shot.md needs 'province:' and 'city:' prompt lines")
    return templates


@lru_cache(maxsize=1)
def province_names_en() -> dict[str, str]:
    path = resources.files("sinoloc.tools.prior").joinpath("data", "province_names_en.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = {r["adcode"]: r["name_en"] for r in rows}
    if len(names) != 34 or any(not n for n in names.values()) or any(not r["source"] for r in rows):
        raise ValueError("province_names_en.csv needs 34 provinces, each with a name and a source")
    return names


def romanise(chinese: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(chinese)).capitalize()


def region_prompts(space: LabelSpace, index: RegionIndex) -> tuple[list[list[str]], list[list[str]]]:
    """The filled prompts of every province and every city of the space."""
    templates, english = prompt_templates(), province_names_en()
    provinces = [index.require(a, Level.PROVINCE) for a in space.provinces]
    by_province = [[t.format(province=p.name, province_en=english[p.adcode])
                    for t in templates["province"]] for p in provinces]
    by_city = []
    for adcode, parent in zip(space.cities, space.city_parent, strict=True):
        city, province = index.require(adcode, Level.CITY), provinces[parent]
        same = city.name == province.name  # 北京市 in 北京市: name it once
        province_en = english[province.adcode]
        city_en = province_en if same else romanise(city.short)
        by_city.append([t.format(province="" if same else province.name, city=city.name,
                                 province_en=province_en, city_en=city_en)
                        .replace(f"{city_en}, {city_en}", city_en)
                        for t in templates["city"]])
    return by_province, by_city


def _text_embeddings(model, tokenizer, prompts: list[list[str]], batch: int = 64):
    """One normalised embedding per region: the mean of its prompts' normalised embeddings."""
    import torch

    flat = [p for group in prompts for p in group]
    out = []
    with torch.inference_mode():
        for i in range(0, len(flat), batch):
            tokens = tokenizer(flat[i:i + batch], padding=True, truncation=True,
                               return_tensors="pt")
            features = model.get_text_features(input_ids=tokens["input_ids"],
                                               attention_mask=tokens["attention_mask"])
            features = getattr(features, "pooler_output", features)
            out.append(torch.nn.functional.normalize(features, dim=-1))
    embeddings = torch.cat(out)
    per_region = len(prompts[0])
    mean = embeddings.view(len(prompts), per_region, -1).mean(dim=1)
    return torch.nn.functional.normalize(mean, dim=-1)


def build_zero_shot(clip: str, out: Path, index: RegionIndex | None = None,
                    image_size: int | None = None) -> PriorCheckpoint:
    """Write a zero-shot checkpoint for the CLIP model ``clip`` (directory or hub id) to
    ``out``; returns its config."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, CLIPModel

    index = index or get_region_index()
    try:
        if AutoConfig.from_pretrained(clip).model_type != "clip":
            raise PriorUnavailable(f"{clip} is not a CLIP model (zero-shot needs image and text "
                                   "towers; train heads on other backbones with `prior train`)")
        with quiet_loading():
            model = CLIPModel.from_pretrained(clip).eval()
        tokenizer = AutoTokenizer.from_pretrained(clip)
    except OSError as exc:
        from sinoloc.tools.prior.model import load_backbone

        load_backbone(clip)  # raises the clear "not local, not cached" message
        raise PriorUnavailable(f"{clip}: {exc}") from exc
    space = LabelSpace.full(index)
    by_province, by_city = region_prompts(space, index)
    scale = float(model.logit_scale.detach().exp())
    width = model.config.projection_dim
    heads = {
        "province.weight": _text_embeddings(model, tokenizer, by_province) * scale,
        "province.bias": torch.zeros(len(space.provinces)),
        "city.weight": _text_embeddings(model, tokenizer, by_city) * scale,
        "city.bias": torch.zeros(len(space.cities)),
        "district.weight": torch.zeros(len(space.districts), width),
        "district.bias": torch.zeros(len(space.districts)),
        "feature_mean": torch.zeros(width), "feature_scale": torch.ones(width),
    }
    config = PriorCheckpoint(
        mode="zero_shot", backbone=backbone_reference(clip),
        feature_kind=CLIP_EMBEDS, feature_dim=width,
        preprocessing=Preprocessing.for_backbone(clip, image_size), labels=space,
        temperature=1.0, fusion_weight=UNCALIBRATED_FUSION_WEIGHT,
        region_data=index.data_version,
        training={"prompts": prompt_templates(), "logit_scale": round(scale, 4)})
    write_checkpoint(out, config, heads)
    return config
