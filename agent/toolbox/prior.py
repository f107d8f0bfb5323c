"""The ``cnn_prior`` tool: the visual prior's reading of the image as one ``prior`` evidence
item (its district distribution, which fusion starts from, and the top regions per level)."""

from __future__ import annotations

import logging

from sinoloc.agent.toolbox.context import ToolContext, ToolOutput
from sinoloc.tools.evidence import Evidence, EvidenceKind, RegionSupport
from sinoloc.tools.images import ImageInputError, run_image
from sinoloc.tools.prior import ENV_CHECKPOINT, configured_checkpoint
from sinoloc.tools.regions import Level, get_region_index

log = logging.getLogger(__name__)
LISTED_PER_LEVEL = 10  # provinces and cities listed in the evidence (districts: the distribution)
NOT_CONFIGURED = (
    "no visual prior is configured, so the search starts from where people live (each "
    "district's population). Train one "
    "with `sinoloc prior train DATA.csv --backbone ID --out DIR` (or build a zero-shot CLIP prior "
    "with `sinoloc prior zero-shot --backbone CLIP --out DIR`), then pass --prior DIR or set "
    f"{ENV_CHECKPOINT}=DIR")


def prior_evidence(result, fusion_weight: float, name: str) -> Evidence:
    """The result as evidence: provinces and cities by their probability, and the district
    distribution (fusion reads the districts; the province weights are what the locatability
    score reads)."""
    regions = [RegionSupport(level=r.level.value, adcode=r.adcode, name=r.name,
                             weight=min(max(r.probability, 1e-6), 1.0))
               for r in [*result.provinces[:LISTED_PER_LEVEL], *result.cities[:LISTED_PER_LEVEL]]
               if r.probability >= 1e-6]
    index = get_region_index()
    regions += [RegionSupport(level="district", adcode=adcode,
                              name=index.require(adcode, Level.DISTRICT).name, weight=min(p, 1.0))
                for adcode, p in result.district_probs.items()]
    top = result.provinces[0].probability if result.provinces else 0.5
    return Evidence(
        kind=EvidenceKind.PRIOR, text="visual prior: " + ", ".join(
            f"{r.name} {r.probability:.0%}" for r in result.provinces[:3]),
        source=f"cnn_prior:{name}", regions=regions,
        weight=min(max(top, 0.01), 0.99), confidence=fusion_weight,
        detail=result.describe(), trace=f"cnn_prior({result.views} view(s))")


def run_prior(ctx: ToolContext) -> ToolOutput:
    path = configured_checkpoint(ctx.request.prior)
    if not path:
        return ToolOutput(status="unavailable", summary=NOT_CONFIGURED)
    earlier = [e.id for e in ctx.evidence if e.kind is EvidenceKind.PRIOR]
    if earlier:
        return ToolOutput(status="ok", summary=f"the visual prior is already in the evidence as "
                          f"{', '.join(earlier)} (not added again)")
    from sinoloc.tools.prior import PriorUnavailable

    try:
        from sinoloc.tools.prior.inference import get_predictor

        predictor = get_predictor(path)
    except ImportError as exc:
        return ToolOutput(status="unavailable", summary=(
            f"the visual prior needs torch and transformers ({exc.name} is missing): "
            "pip install '.[prior]' in the sinoloc clone"))
    except PriorUnavailable as exc:
        return ToolOutput(status="unavailable", summary=f"visual prior unavailable: {exc}")
    try:
        loaded = run_image(ctx.request.image_path, ctx.image_sha256)
        result = predictor.predict(loaded.image, loaded.meta.is_panorama)
    except ImageInputError as exc:
        return ToolOutput(status="error", summary=str(exc))
    except RuntimeError as exc:  # torch: out of memory, a broken backbone
        log.warning("visual prior failed: %s", exc)
        return ToolOutput(status="error", summary=f"the visual prior failed to run: {exc}")
    item = prior_evidence(result, predictor.config.fusion_weight, predictor.name)
    calibrated = predictor.config.mode == "trained" or predictor.config.fusion_weight >= 1.0
    summary = (f"visual prior ({predictor.config.mode.replace('_', '-')}, {result.views} "
               f"view(s){'' if calibrated else ', uncalibrated: counts half'}): "
               f"{result.describe()}; decoded {' › '.join(r.name for r in result.decoded)}")
    return ToolOutput(status="ok", summary=summary, evidence=[item],
                      data={"prior": result.model_dump(mode="json", exclude={"district_probs"})})
