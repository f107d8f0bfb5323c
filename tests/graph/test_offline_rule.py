"""One offline rule for every way in: under --offline (or SINOLOC_OFFLINE=1) a hosted model is
refused by the CLI, chat, eval, the Python API, build_graph and a run's ``configurable``, before
any request is sent; a model on this machine is allowed."""

import pytest
from imaging import hangzhou_shop

from sinoloc.agent.settings import OfflineViolation, model_stays_local, policy_stays_local

pytest.importorskip("langchain_google_genai")
HOSTED = "google_genai:gemini-2.5-flash"


@pytest.fixture
def photo(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")  # the model builds; never called
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    return path


def test_which_models_stay_local():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_google_genai import ChatGoogleGenerativeAI

    from sinoloc.agent.policies.deterministic import DeterministicPolicy

    hosted = ChatGoogleGenerativeAI(model="gemini-2.5-flash", google_api_key="x")
    served_here = ChatGoogleGenerativeAI(model="gemini-2.5-flash", google_api_key="x",
                                         base_url="http://127.0.0.1:8000")
    served_there = ChatGoogleGenerativeAI(model="gemini-2.5-flash", google_api_key="x",
                                          base_url="https://proxy.example.com")
    assert not model_stays_local(hosted)
    assert model_stays_local(served_here) and not model_stays_local(served_there)
    assert model_stays_local(FakeListChatModel(responses=["x"]))  # the user's own class
    assert policy_stays_local(DeterministicPolicy())


@pytest.mark.parametrize("how", ["flag", "env"])
def test_cli_locate_refuses_a_hosted_model(photo, capsys, monkeypatch, how):
    from sinoloc.app.cli.main import main

    args = ["locate", str(photo), "--llm", HOSTED]
    if how == "flag":
        args.append("--offline")
    else:
        monkeypatch.setenv("SINOLOC_OFFLINE", "1")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sinoloc: offline run") and HOSTED in err and "\n" not in err


def test_cli_chat_refuses_a_hosted_model(photo, capsys, tmp_path):
    from sinoloc.app.cli.main import main

    assert main(["chat", "--offline", "--llm", HOSTED, "--db", str(tmp_path / "c.sqlite")]) == 2
    assert "offline run" in capsys.readouterr().err


def test_python_api_refuses_before_any_request(photo):
    from sinoloc import Geolocator

    geolocator = Geolocator(llm=HOSTED)
    with pytest.raises(OfflineViolation, match="forbids the hosted model"):
        geolocator.locate(photo, offline=True)
    offline = Geolocator(llm=HOSTED, settings={"offline": True})
    with pytest.raises(OfflineViolation):
        offline.locate(photo)


def test_build_graph_and_configurable_refuse(photo):
    from sinoloc import build_graph

    with pytest.raises(OfflineViolation):
        build_graph(llm=HOSTED).invoke({"request": {"image_path": str(photo), "offline": True}})
    with pytest.raises(OfflineViolation):
        build_graph().invoke({"request": {"image_path": str(photo)}},
                             config={"configurable": {"llm": HOSTED, "offline": True}})


def test_eval_locator_refuses(photo):
    from sinoloc.eval.run_config import RunConfig, build_locator

    with pytest.raises(OfflineViolation):
        build_locator(RunConfig(llm=HOSTED, offline=True))


def test_a_model_on_this_machine_is_allowed_offline(photo):
    """The offline default and a user's own chat model run offline; the answer comes back."""
    from sinoloc import Geolocator

    prediction = Geolocator().locate(photo, offline=True)
    assert prediction.district == "西湖区" and prediction.backend == "deterministic"
