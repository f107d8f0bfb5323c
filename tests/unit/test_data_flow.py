"""Data flows forward: the image is decoded once per run and found again by its content hash;
the belief is fused once per evidence; evidence is read through one typed reader; verify's
checks are small functions run in a fixed order."""

import pytest

from sinoloc.agent.reasoning.checks import CHECKS
from sinoloc.agent.state import evidence_id, evidence_in
from sinoloc.tools import fusion, images
from sinoloc.tools.evidence import Evidence, EvidenceKind, PointSupport


def test_run_image_comes_from_the_cache_by_hash(tmp_path, monkeypatch):
    from imaging import hangzhou_shop

    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    loaded = images.load_image(path)
    reads = []
    monkeypatch.setattr(images, "_read_bytes", lambda *a: reads.append(a) or (b"", None))
    again = images.run_image(path, loaded.meta.sha256)
    assert again is loaded and reads == []  # no second read of the file


def test_run_image_refuses_a_file_changed_since_ingest(tmp_path):
    from imaging import hangzhou_shop, street_scene

    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    sha = images.load_image(path).meta.sha256
    images._BY_HASH.clear()
    street_scene().save(path)
    with pytest.raises(images.ImageInputError, match="changed since it was ingested"):
        images.run_image(path, sha)


def _point(i: int, lat: float, lon: float) -> Evidence:
    return Evidence(id=evidence_id(i), kind=EvidenceKind.OCR_ADDRESS, text="x", source="test",
                    point=PointSupport(lat=lat, lon=lon, radius_km=1.0), weight=0.9,
                    confidence=0.9)


def test_belief_is_fused_once_per_evidence(regions, monkeypatch):
    calls = []
    real = fusion._fuse
    monkeypatch.setattr(fusion, "_fuse", lambda e, i: calls.append(1) or real(e, i))
    fusion._BELIEFS.clear()
    evidence = [_point(1, 30.2741, 120.1551)]
    first = fusion.fuse(evidence, regions)
    second = fusion.fuse([e.model_copy() for e in evidence], regions)
    assert second is first and len(calls) == 1
    assert not first.probs.flags.writeable  # shared, so read-only
    third = fusion.fuse([*evidence, _point(2, 39.9042, 116.4074)], regions)
    assert third is not first and len(calls) == 2


def test_evidence_reader_types_the_state():
    item = _point(1, 30.0, 120.0)
    typed = evidence_in({"evidence": [item.model_dump(mode="json"), item]})
    assert typed == [item, item] and evidence_in({}) == []


def test_verify_checks_run_in_their_reported_order():
    assert [c.__name__ for c in CHECKS] == [
        "admin_chain", "point_in_region", "citations_exist", "citations_support_claims",
        "claims_cite_evidence", "claim_not_ruled_out", "no_unexplained_contradiction",
        "observations_consistent"]
