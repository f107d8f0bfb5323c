"""A tiny random vision backbone and a synthetic TuXun-style set rendered here: each province
has its own colour, each city its stripe direction, each district its stripe spacing, so a
model can learn the hierarchy in a few CPU steps (the images look like nothing real)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
from PIL import Image

PROVINCES = ("330000", "440000", "510000")  # 浙江, 广东, 四川
COLOURS = ((220, 40, 40), (40, 200, 60), (50, 70, 230))


def save_tiny_resnet(directory: Path) -> Path:
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    config = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1],
                          layer_type="basic", downsample_in_first_stage=False)
    ResNetModel(config).save_pretrained(directory)
    return directory


def pick_districts(index, cities_per_province: int = 2, districts_per_city: int = 2):
    """(province, city, district) regions: sizeable districts, so points can be far apart."""
    chosen = []
    for province in PROVINCES:
        cities = sorted((c for c in index.cities() if c.province_adcode == province),
                        key=lambda c: c.adcode)
        taken = 0
        for city in cities:
            districts = sorted((d for d in index.children(city) if d.area_km2 > 150),
                               key=lambda d: d.adcode)[:districts_per_city]
            if len(districts) < districts_per_city:
                continue
            chosen += [(province, city.adcode, d.adcode) for d in districts]
            taken += 1
            if taken == cities_per_province:
                break
    return chosen


def points_in(index, district, count: int, rng: random.Random):
    import shapely

    polygon = index.district_polygon_wgs84(district)
    x0, y0, x1, y1 = polygon.bounds
    out = []
    while len(out) < count:
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if polygon.contains(shapely.Point(lon, lat)) and index.reverse(lon, lat) == district:
            out.append((lat, lon))
    return out


def pattern(province: int, city: int, district: int, rng: random.Random,
            size: tuple[int, int] = (64, 48)) -> Image.Image:
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(float)
    coordinate = x if city == 0 else y
    period = 6.0 if district == 0 else 16.0
    stripes = (np.sin(2 * np.pi * (coordinate + rng.uniform(0, period)) / period) > 0)[..., None]
    colour = np.asarray(COLOURS[province], dtype=float)
    pixels = np.where(stripes, colour, 255 - colour) + np.random.default_rng(
        rng.randrange(1 << 30)).normal(0, 20, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def render_dataset(directory: Path, index, per_district: int = 8, seed: int = 0,
                   panoramas: int = 0) -> tuple[Path, list]:
    """Write images and ``labels.csv`` (image, lat, lon); returns the CSV and the districts."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    chosen = pick_districts(index)
    cities = {}
    rows = []
    for province, city, district in chosen:
        p = PROVINCES.index(province)
        c = cities.setdefault(province, []).index(city) if city in cities.get(province, []) \
            else (cities.setdefault(province, []).append(city) or len(cities[province]) - 1)
        d = [x for _, cc, x in chosen if cc == city].index(district)
        for n, (lat, lon) in enumerate(points_in(index, index.get(district, "district"),
                                                 per_district, rng)):
            name = f"{district}_{n}.png"
            size = (1000, 500) if n < panoramas else (64, 48)
            pattern(p, c, d, rng, size).save(directory / name)
            rows.append({"image": name, "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"})
    path = directory / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "lat", "lon"])
        writer.writeheader()
        writer.writerows(rows)
    return path, chosen


def save_tiny_clip(directory: Path, corpus: list[str]) -> Path:
    """A random CLIP whose BPE tokenizer is trained here on ``corpus`` (the prompts)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<unk>", "<s>", "</s>"]))
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>",
                                        unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                        model_max_length=64)
    config = CLIPConfig(
        text_config=dict(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64,
                         bos_token_id=bos, eos_token_id=eos, pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16)
    CLIPModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}) \
        .save_pretrained(directory)
    return directory
