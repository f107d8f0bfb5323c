"""Locatability in whole runs: a hopeless image gets a smaller model-call budget, a promising one
keeps it; the optional CLIP part runs end to end."""

import pytest
from imaging import hangzhou_shop, street_scene
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.api import Geolocator
from sinoloc.agent.policies.model import ChatModelPolicy


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    path = tmp_path_factory.mktemp("loc") / "blank.jpg"
    street_scene(seed=7).save(path)
    return path


def looker(n):
    return ScriptedChatModel(script=[reply(call("ocr", box=[0.0, 0.0, 0.5, 0.5]))] * n)


@pytest.mark.slow
def test_hopeless_images_get_a_smaller_model_budget(blank):
    model = looker(10)
    p = Geolocator(ChatModelPolicy(model, "scripted:test")).locate(blank, max_model_calls=10,
                                                                  max_tool_calls=50)
    assert p.locatability.score < 0.05 and p.usage.model_calls == 4  # 40 % of 10
    assert any("model-call budget (4)" in w for w in p.warnings)
    full = looker(10)
    q = Geolocator(ChatModelPolicy(full, "scripted:test")).locate(
        blank, max_model_calls=10, max_tool_calls=50, adaptive_budget=False)
    assert q.usage.model_calls == 10


@pytest.mark.slow
def test_promising_images_keep_the_full_budget(tmp_path):
    shop = tmp_path / "shop.jpg"
    hangzhou_shop(shop)
    model = looker(10)
    p = Geolocator(ChatModelPolicy(model, "scripted:test")).locate(shop, max_model_calls=10,
                                                                  max_tool_calls=50)
    assert p.locatability.band == "high" and p.usage.model_calls >= 9


# ------------------------------------------------------------------ the optional CLIP part
def save_tiny_clip(directory):
    """A random CLIP with a BPE tokenizer trained on the locatability prompts: the real loading
    and scoring code runs offline (the scores themselves mean nothing)."""
    from prior_data import save_tiny_clip as save_clip

    from sinoloc.tools.locatability_clip import clip_prompts

    positive, negative = clip_prompts()
    return save_clip(directory, (positive + negative) * 5)


@pytest.mark.slow
def test_clip_part_runs_end_to_end(tmp_path, monkeypatch, blank):
    from sinoloc.tools import locatability_clip

    clip_dir = save_tiny_clip(tmp_path / "clip")
    monkeypatch.setenv(locatability_clip.ENV_CLIP, str(clip_dir))
    locatability_clip._scorer.cache_clear()
    p = Geolocator().locate(blank)
    clip = p.locatability.components["clip"]
    assert 0.0 <= clip <= 1.0
    expected = 1 - (1 - 0.35 * p.locatability.components["text"]) * (1 - 0.5 * clip)
    assert p.locatability.score == pytest.approx(expected, abs=1e-3)
    monkeypatch.setenv(locatability_clip.ENV_CLIP, str(tmp_path / "missing"))
    locatability_clip._scorer.cache_clear()
    q = Geolocator().locate(blank)  # a broken model never stops the run
    assert "clip" not in q.locatability.components
