"""What the Ray engine relies on that runs without a cluster: the model's rate limit as a
callback, a 429 that holds every worker back, and the options' refusals when Ray is missing."""

import sys

import pytest
from langchain_core.messages import HumanMessage
from scripted_model import ScriptedChatModel, reply

from sinoloc.agent.llm.rate_limit import ModelRateLimit
from sinoloc.app.cli.main import main
from sinoloc.eval.ray_engine import INSTALL_HINT, require_ray
from sinoloc.eval.runner import RunError
from sinoloc.tools.online.store import OnlineStore


class Throttled(Exception):
    status_code = 429


def _store(tmp_path):
    now = [1000.0]

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    slept: list[float] = []
    return OnlineStore(tmp_path / "s.sqlite", clock=lambda: now[0], sleep=sleep), slept, now


def test_the_model_rate_limit_spaces_every_request_of_every_caller(tmp_path):
    store, slept, _ = _store(tmp_path)
    limit = ModelRateLimit(store, "model:openai:m", requests_per_s=5.0)
    model = ScriptedChatModel(script=[reply(text="a")], repeat_last=True)
    other = ScriptedChatModel(script=[reply(text="b")], repeat_last=True)  # another worker
    for chat in (model, other, model):
        chat.invoke([HumanMessage(content="where?")], config={"callbacks": [limit]})
    assert len(model.received) == 2 and len(other.received) == 1
    assert slept == [0.2, 0.2]  # the first goes at once, then one every 0.2 s


def test_a_rate_limit_error_pushes_the_next_slot_back_for_everyone(tmp_path):
    store, slept, _ = _store(tmp_path)
    limit = ModelRateLimit(store, "model:openai:m", requests_per_s=5.0)
    model = ScriptedChatModel(script=[Throttled("Rate limit reached; try again in 3 s")])
    with pytest.raises(Throttled):
        model.invoke([HumanMessage(content="where?")], config={"callbacks": [limit]})
    store.wait_turn("model:openai:m", 0.2)  # any worker's next request
    assert slept == [3.0]  # the provider's retry-after, for the whole store


def test_engine_ray_without_ray_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when not installed
    with pytest.raises(RunError, match=r"pip install '\.\[ray\]'"):
        require_ray()
    data = tmp_path / "set.csv"
    data.write_text("id,image,lat,lon\n", encoding="utf-8")
    assert main(["eval", "run", str(data), "--out", str(tmp_path / "run"), "--engine", "ray",
                 "--offline"]) == 2
    assert INSTALL_HINT in capsys.readouterr().err
    assert not (tmp_path / "run" / "run.json").exists()  # refused before the run began


def test_ray_options_need_engine_ray(tmp_path, capsys):
    assert main(["eval", "run", "x.csv", "--out", str(tmp_path / "run"), "--actors", "4",
                 "--offline"]) == 2
    assert "--actors: only with --engine ray" in capsys.readouterr().err
