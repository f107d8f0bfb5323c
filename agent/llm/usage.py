"""Accounting: model calls, tokens and cost per image.

Tokens come from each message's ``usage_metadata`` (the provider's own count). Cost uses the
price table shipped in ``data/prices.csv`` (with its sources and dates), or a price given in
``SINOLOC_LLM_PRICE`` as ``input,output`` US dollars per million tokens; a backend with no known
price reports no cost rather than a guess.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field

ENV_PRICE = "SINOLOC_LLM_PRICE"


class Price(BaseModel):
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    source: str


@lru_cache(maxsize=1)
def price_table() -> dict[tuple[str, str], Price]:
    text = resources.files(__package__).joinpath("data", "prices.csv").read_text(encoding="utf-8")
    table = {}
    for row in csv.DictReader(text.splitlines()):
        if not row["source"].strip():
            raise ValueError(f"prices.csv: {row['provider']}:{row['model']} has no source")
        table[(row["provider"], row["model"])] = Price(
            input_usd_per_mtok=float(row["input_usd_per_mtok"]),
            output_usd_per_mtok=float(row["output_usd_per_mtok"]),
            source=f"{row['source']} (as of {row['as_of']})")
    return table


def price_for(backend: str) -> Price | None:
    """The configured price for ``provider:model``; local models cost nothing per token."""
    override = os.environ.get(ENV_PRICE)
    if override:
        try:
            inp, out = (float(v) for v in override.split(","))
        except ValueError as exc:
            raise ValueError(f"{ENV_PRICE} must be 'input,output' USD per million tokens") from exc
        return Price(input_usd_per_mtok=inp, output_usd_per_mtok=out, source=ENV_PRICE)
    provider, _, model = backend.partition(":")
    if provider == "local":
        return Price(input_usd_per_mtok=0, output_usd_per_mtok=0, source="local model")
    return price_table().get((provider, model))


def usage_of(message: AIMessage) -> dict[str, int]:
    """One model call's counts, for the state's ``usage`` reducer."""
    meta: Mapping[str, Any] = message.usage_metadata or {}
    return {"model_calls": 1, "input_tokens": int(meta.get("input_tokens", 0) or 0),
            "output_tokens": int(meta.get("output_tokens", 0) or 0)}


def cost_usd(backend: str, input_tokens: int, output_tokens: int) -> tuple[float | None, str | None]:
    price = price_for(backend)
    if price is None:
        return None, None
    cost = (input_tokens * price.input_usd_per_mtok + output_tokens * price.output_usd_per_mtok) / 1e6
    return round(cost, 9), price.source
