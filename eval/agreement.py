"""Agreement among trajectories (``samples`` > 1) as a confidence signal: accuracy by how many
of an image's trajectories agreed on the committed answer, so a report shows whether "3 of 3
agreed" is more often right than "1 of 3" (and by how much), and the mean agreement a
comparison sets beside accuracy and cost."""

from __future__ import annotations

import statistics

from pydantic import BaseModel

from sinoloc.eval.scoring import ScoredImage


class AgreementLevel(BaseModel):
    """The images whose trajectories agreed this much."""

    agreeing: str  # "2 of 3"
    images: int
    share: float  # of the images with trajectories
    province: float
    city: float
    district: float
    median_km: float


class AgreementStats(BaseModel):
    images: int
    mean_agreement: float
    levels: list[AgreementLevel]


def agreement_stats(images: list[ScoredImage]) -> AgreementStats | None:
    """Accuracy by agreement level over the images that ran several trajectories; None when
    none did."""
    sampled = [i for i in images if i.samples > 1 and i.agreement is not None]
    if not sampled:
        return None
    groups: dict[tuple[int, int], list[ScoredImage]] = {}
    for image in sampled:
        agreeing = round((image.agreement or 0.0) * image.samples)
        groups.setdefault((agreeing, image.samples), []).append(image)
    levels = []
    for (agreeing, k), group in sorted(groups.items(), key=lambda kv: (-kv[0][0] / kv[0][1],
                                                                     kv[0][1])):
        levels.append(AgreementLevel(
            agreeing=f"{agreeing} of {k}", images=len(group),
            share=len(group) / len(sampled),
            province=sum(i.correct["province"] for i in group) / len(group),
            city=sum(i.correct["city"] for i in group) / len(group),
            district=sum(i.correct["district"] for i in group) / len(group),
            median_km=statistics.median(i.error_km for i in group)))
    return AgreementStats(images=len(sampled),
                          mean_agreement=sum(i.agreement or 0.0 for i in sampled) / len(sampled),
                          levels=levels)


def agreement_lines(stats: AgreementStats | None) -> list[str]:
    """The report's section (nothing for a run of one trajectory per image)."""
    if stats is None:
        return []
    rows = [f"| {lv.agreeing} | {lv.images} | {lv.share:.1%} | {lv.province:.1%} | "
            f"{lv.city:.1%} | {lv.district:.1%} | {lv.median_km:,.1f} |" for lv in stats.levels]
    return ["", "## Accuracy by agreement among trajectories", "",
            f"Over {stats.images} images that ran several trajectories (mean agreement "
            f"{stats.mean_agreement:.2f}): how many trajectories' verified answers named the "
            "committed region at its finest level.", "",
            "| agreeing | images | share | province | city | district | median km |",
            "|---|---|---|---|---|---|---|", *rows]


def mean_agreement(images: list[ScoredImage]) -> str:
    """For a comparison's table: the mean agreement, or "–" for one trajectory per image."""
    stats = agreement_stats(images)
    return "–" if stats is None else f"{stats.mean_agreement:.2f}"
