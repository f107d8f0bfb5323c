"""``eval run --engine ray``: the same rows as a local run, an actor lost mid-image retried on
another, a killed driver resumed with every image exactly once, the cluster-wide store."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eval_data import labelled_set, wait_for_rows
from scripted_model import ScriptedChatModel, reply

from sinoloc.eval.datasets import dataset_fingerprint, load_dataset
from sinoloc.eval.run_config import RunConfig
from sinoloc.eval.runner import PREDICTIONS, load_record, rows_of, run

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the cluster binds 127.0.0.1
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")

from sinoloc.eval.ray_engine import RayEngine, RayOptions, connect  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.loopback]
TESTS = Path(__file__).parent
MARK_ENV = "SINOLOC_TEST_RAY_MARKS"


def dying_model():
    """``python:test_ray_eval:dying_model``: the first call in the whole cluster kills its
    process (as a lost node would), every later one answers without a tool call (the policy then
    hands over to the deterministic policy)."""
    def answer(messages):
        first = Path(os.environ[MARK_ENV]) / "died"
        try:
            first.touch(exist_ok=False)
        except FileExistsError:
            return reply(text="no idea")
        os._exit(1)

    return ScriptedChatModel(script=[answer], repeat_last=True)


def slow_model():
    """``python:test_ray_eval:slow_model``: a second per call, so a driver can be killed mid-run."""
    def answer(messages):
        time.sleep(1.0)
        return reply(text="no idea")

    return ScriptedChatModel(script=[answer], repeat_last=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-CPU Ray on 127.0.0.1 for this module (its workers import this module and see the
    marks folder through the environment they inherit), shut down afterwards."""
    marks = tmp_path_factory.mktemp("marks")
    saved = {k: os.environ.get(k) for k in (MARK_ENV, "PYTHONPATH")}
    os.environ[MARK_ENV] = str(marks)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(data, out, regions, config, **kw):
    return run(load_dataset(data, regions), out, config, dataset=str(data),
               dataset_sha256=dataset_fingerprint(data), progress=False, **kw)


def _answer(row):
    """What a row predicts, without its timings."""
    p = row.prediction
    return (row.id, row.status, p["lat"], p["lon"], p["province"], p["city"], p["district"])


def test_a_ray_run_writes_the_rows_a_local_run_writes(tmp_path, regions, cluster):
    data = labelled_set(tmp_path / "set", scenes=3)
    config = RunConfig(offline=True)
    _run(data, tmp_path / "local", regions, config, workers=0)
    engine = RayEngine(RayOptions(address=cluster, actors=2))
    record = _run(data, tmp_path / "ray", regions, config, workers=2, engine=engine)
    local, remote = rows_of(tmp_path / "local"), rows_of(tmp_path / "ray")
    assert sorted(map(_answer, remote)) == sorted(map(_answer, local))
    assert len(remote) == 4 and all(r.status == "ok" for r in remote)
    [session] = record.sessions
    assert session.outcome == "complete" and session.rows_written == 4
    assert session.workers == 2 and session.note.startswith("engine ray: 2 actors")
    assert not Path(session.temp_dir).exists()  # the neutral copies went with the run


def test_an_image_whose_actor_dies_is_retried_on_another_and_written_once(tmp_path, regions,
                                                                           cluster):
    data = labelled_set(tmp_path / "set", scenes=3)
    config = RunConfig(llm="python:test_ray_eval:dying_model", max_model_calls=3)
    _run(data, tmp_path / "run", regions, config, workers=2,
         engine=RayEngine(RayOptions(address=cluster, actors=2)))
    assert (Path(os.environ[MARK_ENV]) / "died").exists()  # an actor really died mid-image
    lines = (tmp_path / "run" / PREDICTIONS).read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert sorted(ids) == ["beijing", "chengdu", "shop", "urumqi"]  # none lost, none twice
    assert all(r.status == "ok" and r.prediction for r in rows_of(tmp_path / "run"))


def test_an_image_past_the_timeout_gets_its_row_and_its_actor_is_replaced(tmp_path, regions,
                                                                          cluster):
    data = labelled_set(tmp_path / "set", scenes=1)
    config = RunConfig(llm="python:test_ray_eval:slow_model", timeout_s=0.3)
    _run(data, tmp_path / "run", regions, config, workers=1,
         engine=RayEngine(RayOptions(address=cluster, actors=1)))
    rows = rows_of(tmp_path / "run")
    assert [(r.id, r.status) for r in rows] == [("shop", "timeout"), ("beijing", "timeout")]
    assert "0.3 s" in rows[0].error and rows[0].error_kind == "locator"  # within --max-seconds


def test_a_killed_driver_resumes_on_the_cluster_with_every_image_exactly_once(tmp_path, cluster):
    data = labelled_set(tmp_path / "set", scenes=5)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "sinoloc.app.cli.main", "eval", "run", str(data), "--out",
               str(out), "--engine", "ray", "--ray-address", cluster, "--actors", "2",
               "--llm", "python:test_ray_eval:slow_model", "--max-model-calls", "2",
               "--no-progress"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    log = out / PREDICTIONS
    wait_for_rows(process, log, 1, timeout=120)
    os.killpg(process.pid, signal.SIGKILL)  # the driver, no clean-up at all
    process.wait()
    before = [json.loads(x)["id"] for x in log.read_text(encoding="utf-8").splitlines()]
    assert 1 <= len(before) < 6
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(x)["id"] for x in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted(["shop", "beijing", "chengdu", "urumqi", "guangzhou", "harbin"])
    assert ids[:len(before)] == before
    killed, again = load_record(out).sessions
    assert killed.outcome == "killed" and killed.rows_written == len(before)
    assert again.outcome == "complete" and again.rows_written == 6 - len(before)


def test_the_cluster_store_spaces_every_actor_s_requests_and_shares_its_cache(tmp_path, cluster):
    from sinoloc.tools.online.ray_store import NAMESPACE, STORE_ACTOR, RayStore, start_store

    connect(RayOptions(address=cluster))
    with contextlib.suppress(ValueError):  # the runs above left theirs: start on a fresh file
        ray.kill(ray.get_actor(STORE_ACTOR, namespace=NAMESPACE))
    actor = start_store(str(tmp_path / "online.sqlite"))

    @ray.remote(num_cpus=0)
    def requests(n):
        store = RayStore()  # found by name, as an eval actor finds it
        stamps = []
        for _ in range(n):
            store.wait_turn("model:x", 0.2)
            stamps.append(time.time())
        store.put("nominatim", f"q{len(stamps)}-{os.getpid()}", {"pid": os.getpid()})
        return stamps

    stamps = sorted(s for batch in ray.get([requests.remote(4) for _ in range(3)]) for s in batch)
    assert len(stamps) == 12
    # 5 requests/s across three workers: 11 intervals of 0.2 s, and no second holds more than
    # 5 + 1 (a wait is measured on the store's clock; the reply's latency blurs each stamp)
    assert stamps[-1] - stamps[0] >= 11 * 0.2 * 0.95
    assert max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps) <= 6
    assert RayStore(actor).count("nominatim") == 3  # every worker's answer is in one cache
    start = time.time()
    RayStore(actor).penalise("model:x", 1.0)  # a 429 seen by one holds back all
    RayStore(actor).wait_turn("model:x", 0.2)
    assert time.time() - start >= 0.9
    ray.kill(actor)
