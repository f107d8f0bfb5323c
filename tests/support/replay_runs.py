"""Recorded runs for the replay tests and the replay benchmark: a scripted geolocating model
served over HTTP on loopback (the OpenAI-compatible dialect, through the real SDK), and
helpers to run ``sinoloc eval run`` in this process and compare predictions.

The scripted model asks the knowledge base once, then submits a fixed sequence of answers (one
per verification round) citing every evidence id its request carries: a trajectory that depends
on the image's evidence and on verification's verdicts, so that changing a verification
threshold changes some images' trajectories and not others."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

from provider_dialects import DIALECTS, Seen, Turn
from provider_server import ScriptedServer

DIALECT = DIALECTS["openai"]
BEIJING = {"province": "北京市", "city": "北京市", "district": "东城区", "lat": 39.9163,
           "lon": 116.4177}
EVIDENCE = re.compile(r'^\{"id": "E\d+".*\}$', re.MULTILINE)
PLACE = re.compile(r"[\u4e00-\u9fa5]{1,8}?(?:特别行政区|自治区|自治州|地区|盟|省|市|区|县|旗)")


def evidence(seen: Seen) -> list[dict]:
    """The numbered evidence the prelude showed (its JSON lines), strongest first."""
    items = [json.loads(line) for text in seen.texts for line in EVIDENCE.findall(text)]
    return sorted(items, key=lambda e: -e.get("weight", 0))


def place_of(item: dict):
    """The deepest region an evidence item's meaning names (after its arrow)."""
    from sinoloc.tools.regions import get_region_index

    index, found = get_region_index(), None
    for name in PLACE.findall(item.get("means", "").partition("→")[2]):
        matches = index.lookup(name, within=found) if found else index.lookup(name)
        found = matches[0] if matches else found
    return found


def _answer(region, items: list[dict], district_cited: bool) -> dict:
    from sinoloc.tools.regions import Level, get_region_index

    index = get_region_index()
    province, city = index.province_of(region), index.city_of(region)
    district = region if region.level is Level.DISTRICT else None

    def citing(r) -> list[str]:
        return [e["id"] for e in items if r is not None and r.short in e.get("means", "")]
    return {"province": province.name, "city": city.name if city else None,
            "district": district.name if district else None, "lat": region.lat,
            "lon": region.lon, "province_evidence": citing(province),
            "city_evidence": citing(city),
            "district_evidence": citing(district) if district_cited else []}


def surveyor(seen: Seen) -> Turn:
    """Asks the knowledge base once; then submits the region its strongest evidence names,
    first with a neighbouring district (a near miss that verification may send back, by how
    strong the contrary evidence is), then the named one; with no evidence, Beijing."""
    if not seen.results_of("lookup_knowledge"):
        return Turn(calls=[("lookup_knowledge", {"query": "shop signs and road markings"})])
    items = evidence(seen)
    region = next((r for r in map(place_of, items) if r is not None), None)
    if region is None:
        answer = dict(BEIJING)
    else:
        from sinoloc.tools.regions import Level, get_region_index

        index = get_region_index()
        near = region
        if region.level is Level.DISTRICT and not seen.results_of("submit_answer"):
            siblings = [d for d in index.children(index.parent(region)) if d != region]
            near = min(siblings, key=lambda d: d.adcode) if siblings else region
        answer = _answer(near, items, district_cited=near == region)
    return Turn(calls=[("submit_answer", {**answer, "confidence": 0.6,
                                          "reasoning": "the strongest evidence"})])


def model_server() -> ScriptedServer:
    server = ScriptedServer(DIALECT.path)
    server.fallback = DIALECT.reply_for(surveyor)
    return server


def eval_run(main, data: Path, out: Path, *extra: str) -> int:
    return main(["eval", "run", str(data), "--out", str(out), "--workers", "0", "--offline",
                 "--no-progress", *extra])


@contextlib.contextmanager
def loopback_allowed():
    """Loopback allowed for a module-scoped fixture that starts its own server (the guard's
    per-test switch is set only once a test starts, after such fixtures)."""
    import network_guard

    before = network_guard._installed.get("allowed")
    network_guard._installed["allowed"] = lambda: True
    try:
        yield
    finally:
        network_guard._installed["allowed"] = before


def recorded_run(main, data: Path, out: Path, *extra: str) -> tuple[int, int]:
    """``eval run`` with the scripted model on loopback; the exit code and the requests the
    server answered."""
    with loopback_allowed(), model_server() as server:
        code = eval_run(main, data, out, "--llm", DIALECT.llm, "--base-url",
                        server.url + "/v1", "--model-timeout", "30", *extra)
        return code, len(server.requests)


def rows(run: Path) -> dict[str, dict]:
    lines = (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def regression_set(folder: Path) -> Path:
    """The rendered set of the regression record (tests/data/replay): the Hangzhou shop sign and
    one plain street scene."""
    from eval_data import labelled_set

    return labelled_set(folder, scenes=1)
