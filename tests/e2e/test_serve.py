"""``sinoloc serve``'s JSON API and event stream over a real socket on 127.0.0.1 (the offline
default policy), its refusals, its token rule, and the offline map document it draws."""

from __future__ import annotations

import base64
import json
import threading

import httpx
import pytest
from starlette.testclient import TestClient
from web_server import running_server

from sinoloc.agent.schemas import GeoPrediction
from sinoloc.app.cli.common import demo_image

pytestmark = pytest.mark.loopback
DEMO = demo_image().read_bytes()  # a shop sign in 杭州市西湖区 with an address, a phone and a plate


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("serve"), upload_max_bytes=2 * 1024 * 1024) as s:
        yield s


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server[0], timeout=120) as c:
        yield c


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]


def stream(client: httpx.Client, url: str, **kwargs) -> list[dict]:
    with client.stream("POST", url, **kwargs) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return events_of(response)


def test_locate_multipart_answers_the_prediction(client):
    r = client.post("/api/locate", files={"image": ("shop.jpg", DEMO, "image/jpeg")})
    assert r.status_code == 200, r.text
    p = GeoPrediction.model_validate(r.json())
    assert (p.province, p.city, p.district) == ("浙江省", "杭州市", "西湖区")
    assert p.basis == "evidence" and p.coordinate_system == "WGS-84"
    thread = client.get(f"/api/threads/{r.headers['x-sinoloc-thread']}").json()
    assert thread["prediction"]["district_adcode"] == p.district_adcode


def test_a_threads_photo_is_served_downscaled_while_the_server_keeps_it(server, client):
    """``GET /api/threads/{id}/photo``: the image of the thread's answer as a JPEG at most
    1600 px (the page draws the text's boxes on it after a reload); 404 for an unknown thread
    and once the upload store no longer holds the image."""
    import io

    from PIL import Image

    r = client.post("/api/locate", files={"image": ("shop.jpg", DEMO, "image/jpeg")})
    thread = r.headers["x-sinoloc-thread"]
    photo = client.get(f"/api/threads/{thread}/photo")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["cross-origin-resource-policy"] == "same-origin"
    assert photo.headers["x-content-type-options"] == "nosniff"
    picture = Image.open(io.BytesIO(photo.content))
    original = Image.open(io.BytesIO(DEMO))
    assert picture.format == "JPEG" and max(picture.size) <= 1600
    assert picture.size[0] / picture.size[1] == pytest.approx(original.size[0] / original.size[1],
                                                              rel=0.01)
    assert client.get("/api/threads/20260101-000000-abcd/photo").status_code == 404
    from pathlib import Path

    stored = Path(server[1].values(thread)["image"]["path"])
    kept = stored.read_bytes()
    try:
        stored.unlink()  # pruned from the upload store
        gone = client.get(f"/api/threads/{thread}/photo")
        assert gone.status_code == 404 and "no longer kept" in gone.json()["error"]
    finally:
        stored.write_bytes(kept)


def test_locate_without_a_thread_leaves_none_behind(client):
    """``?thread=false``: the answer, no thread header, nothing added to the threads list; a
    review (which needs a thread) is refused up front."""
    before = {t["thread_id"] for t in client.get("/api/threads").json()}
    r = client.post("/api/locate?thread=false", files={"image": ("shop.jpg", DEMO, "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["district_adcode"] == "330106" and "x-sinoloc-thread" not in r.headers
    assert {t["thread_id"] for t in client.get("/api/threads").json()} == before
    kept = client.post("/api/locate", files={"image": ("shop.jpg", DEMO, "image/jpeg")})
    assert kept.headers["x-sinoloc-thread"] in {t["thread_id"] for t in client.get("/api/threads").json()}
    refused = client.post("/api/locate?thread=false",
                          json={"image": "data:image/jpeg;base64," + base64.b64encode(DEMO).decode(),
                                "settings": {"review": True}})
    assert refused.status_code == 400 and "review needs a thread" in refused.json()["error"]


def test_locate_json_data_uri_applies_its_settings(client):
    uri = "data:image/jpeg;base64," + base64.b64encode(DEMO).decode()
    r = client.post("/api/locate", json={"image": uri, "settings": {"top_k": 2}})
    assert r.status_code == 200, r.text
    assert len(r.json()["candidates"]) == 2
    assert r.json()["district_adcode"] == "330106"


def test_stream_shows_steps_evidence_verdict_then_answer_and_map(client):
    events = stream(client, "/api/locate/stream", files={"image": ("shop.jpg", DEMO, "image/jpeg")},
                    data={"settings": json.dumps({"top_k": 3})})
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "thread" and kinds[-1] == "result"
    for kind in ("image", "tool_start", "tool_result", "evidence", "submit", "verdict", "answer"):
        assert kind in kinds, kinds
    assert kinds.index("tool_start") < kinds.index("evidence") < kinds.index("verdict") \
        < kinds.index("answer")
    evidence = [e["data"] for e in events if e["kind"] == "evidence"]
    assert [e["id"] for e in evidence] == [f"E{i}" for i in range(1, len(evidence) + 1)]
    assert {e["kind"] for e in evidence} >= {"ocr_address", "phone"}
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    result = events[-1]["data"]
    assert len(result["prediction"]["candidates"]) == 3
    m = result["map"]
    assert [f["adcode"] for f in m["claimed"]] == ["330000", "330100", "330106"]
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in m["claimed"])
    assert m["belief"][0]["adcode"] == "330106" and m["belief"][0]["probability"] > 0.5
    assert m["legend"][0]["min"] > m["legend"][-1]["min"] == 0
    assert m["answer"]["guess"] is False


def _gps_photo() -> bytes:
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 90, 90)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_map_links_point_evidence_and_marks_a_guess(client):
    files = {"image": ("gps.jpg", _gps_photo(), "image/jpeg")}
    found = stream(client, "/api/locate/stream", files=files)[-1]["data"]["map"]
    assert [(p["evidence_id"], p["kind"]) for p in found["points"]] == [("E1", "exif_gps")]
    assert found["points"][0]["lat"] == pytest.approx(39.9075, abs=1e-3)
    assert found["answer"]["guess"] is False and found["claimed"][0]["name"] == "北京市"
    guess = stream(client, "/api/locate/stream", files=files,
                   data={"settings": json.dumps({"ignore_exif": True})})[-1]["data"]
    assert guess["prediction"]["basis"] == "prior_only"
    assert guess["map"]["answer"]["guess"] is True and guess["map"]["points"] == []


def test_follow_up_question_on_the_thread_and_the_thread_list(client):
    events = stream(client, "/api/locate/stream", files={"image": ("shop.jpg", DEMO, "image/jpeg")})
    thread_id = events[0]["data"]["thread_id"]
    replies = stream(client, f"/api/threads/{thread_id}/ask", json={"question": "why not 江苏?"})
    assert replies[0]["kind"] == "thread" and replies[0]["text"] == thread_id
    reply = [e for e in replies if e["kind"] == "reply"]
    assert reply and "question" in reply[0]["text"]  # the offline policy says what it needs
    assert "sinoloc serve --llm" in reply[0]["text"] and "sinoloc chat" not in reply[0]["text"]
    listed = {t["thread_id"]: t for t in client.get("/api/threads").json()}
    assert listed[thread_id]["questions"] == 1 and listed[thread_id]["images"] == 1
    view = client.get(f"/api/threads/{thread_id}").json()
    assert view["prediction"]["district"] == "西湖区"  # the answer stands after a question
    assert [e["kind"] for e in view["transcript"]][-2:] == ["question", "reply"]
    assert client.post("/api/threads/no-such-thread/ask", json={"question": "?"}).status_code == 404
    assert client.get("/api/threads/..%2Fetc").status_code in (400, 404)


@pytest.mark.parametrize(("files", "status", "words"), [
    ({"image": ("notes.jpg", b"this is a text file, not a photo " * 4, "image/jpeg")}, 400,
     "not an image"),
    ({"image": ("big.jpg", b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024 + 10), "image/jpeg")}, 413,
     "limit"),
])
def test_bad_upload_is_one_clear_4xx(client, files, status, words):
    r = client.post("/api/locate", files=files)
    assert r.status_code == status
    body = r.json()
    assert list(body) == ["error"] and words in body["error"] and "\n" not in body["error"]


@pytest.mark.parametrize(("body", "words"), [
    ({"image": "/etc/passwd"}, "images folder"),
    ({"image": "x", "settings": {"prior": "/srv/ckpt"}}, "operator"),
    ({"image": "x", "settings": {"top_k": 500}}, "settings.top_k"),
    ({"image": "x", "settings": {"llm": "python:os:system"}}, "llm"),
    ({"picture": "x"}, "body"),
])
def test_refused_requests_name_only_what_was_sent(client, body, words):
    r = client.post("/api/locate", json=body)
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]
    assert "/work" not in r.json()["error"] and "uploads" not in r.json()["error"]


def test_two_concurrent_requests_each_get_their_own_settings(client):
    results: dict[int, httpx.Response] = {}

    def post(top_k: int) -> None:
        results[top_k] = client.post("/api/locate", files={"image": ("s.jpg", DEMO, "image/jpeg")},
                                     data={"settings": json.dumps({"top_k": top_k})})

    threads = [threading.Thread(target=post, args=(k,)) for k in (1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert {k: len(r.json()["candidates"]) for k, r in results.items()} == {1: 1, 7: 7}


def test_page_static_files_and_openapi_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/vendor/leaflet/leaflet.js" in page.text
    assert "http" not in page.text.replace('href="/docs"', "")  # nothing from a CDN
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/api/locate", "/api/locate/stream", "/api/threads", "/api/threads/{thread_id}/ask"} \
        <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/api/locate"]["post"]["requestBody"]["content"]
    base = client.get("/api/map/base").json()
    assert len(base["features"]) == 34


def test_token_is_required_beyond_loopback(tmp_path):
    from sinoloc.app.cli.serve import server_token

    assert server_token("127.0.0.1", None) == (None, False)
    assert server_token("::1", None) == (None, False)
    token, generated = server_token("0.0.0.0", None)
    assert generated and len(token) >= 20
    assert server_token("192.168.1.5", "mine") == ("mine", False)
    with running_server(tmp_path, token="s3cret") as (url, _), httpx.Client(base_url=url) as c:
        assert c.get("/api/threads").status_code == 401
        assert c.get("/api/threads", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/threads", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        opened = c.get("/?token=s3cret")
        assert opened.status_code == 200 and "sinoloc_token" in opened.headers["set-cookie"]
        assert c.get("/api/threads").status_code == 200  # the cookie now carries it


def test_without_a_token_only_loopback_host_names_are_answered(server):
    # a page elsewhere that rebinds its own name to 127.0.0.1 sends its name as the Host
    app = server[1]
    from sinoloc.app.web.app import create_app

    with TestClient(create_app(app), base_url="http://evil.example") as c:
        assert c.get("/api/threads").status_code == 400
    for allowed in ("http://127.0.0.1:8000", "http://localhost", "http://[::1]:8000"):
        with TestClient(create_app(app), base_url=allowed) as c:
            assert c.get("/api/threads").status_code == 200


def test_every_static_file_ships_in_the_wheel():
    import fnmatch
    import tomllib
    from pathlib import Path

    from sinoloc.app.web import static_dir

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["sinoloc.app.web"]
    web = static_dir().parent
    files = [p.relative_to(web).as_posix() for p in static_dir().rglob("*") if p.is_file()]
    assert {"static/index.html", "static/app.js", "static/map.js",
            "static/vendor/leaflet/leaflet.js", "static/vendor/leaflet/LICENSE"} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


@pytest.mark.slow
def test_serve_command_starts_on_loopback_and_answers(tmp_path):
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "SINOLOC_UPLOAD_DIR": str(tmp_path / "up"),
           "SINOLOC_CHAT_DB": str(tmp_path / "chat.sqlite")}
    proc = subprocess.Popen([sys.executable, "-m", "sinoloc.app.cli.main", "serve", "--port", "0",
                             "--offline"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url and "token" not in line, line
        with httpx.Client(base_url=url.group(0), timeout=120) as c:
            r = c.post("/api/locate", files={"image": ("s.jpg", DEMO, "image/jpeg")})
            assert r.status_code == 200 and r.json()["district"] == "西湖区"
    finally:
        proc.terminate()
        proc.wait(30)


def test_map_outlines_are_simplified_wgs84_of_the_region_data(regions):
    import shapely

    from sinoloc.agent.output.geometry import TOLERANCE, outline
    from sinoloc.tools.regions import Level

    for adcode in ("330106", "110105", "441900"):  # 西湖区, 朝阳区 (北京), 东莞 (no districts)
        region = regions.get(adcode, Level.DISTRICT)
        shape = shapely.from_geojson(json.dumps(outline(Level.DISTRICT, adcode)))
        exact = regions.district_polygon_wgs84(region)
        # WGS-84 like the index's own conversion (GCJ-02 would be ~500 m off) and simplified
        # no further than its tolerance
        assert shapely.hausdorff_distance(shape, exact) <= TOLERANCE[Level.DISTRICT] * 1.5
        assert shapely.distance(shape.centroid, exact.centroid) < 0.002  # GCJ-02: ≥ 0.005°
        assert shapely.get_num_coordinates(shape) < shapely.get_num_coordinates(exact)
    assert outline(Level.CITY, "330100") is not None and outline(Level.PROVINCE, "330000") is not None
    assert outline(Level.DISTRICT, "999999") is None


def test_review_over_the_json_api_and_a_correction(server, client, tmp_path, monkeypatch):
    monkeypatch.setenv("SINOLOC_CORRECTIONS", str(tmp_path / "corrections.jsonl"))
    upload = "data:image/jpeg;base64," + base64.b64encode(DEMO).decode()
    waiting = client.post("/api/locate", json={"image": upload, "settings": {"review": True}})
    assert waiting.status_code == 400 and "waits for review on thread" in waiting.json()["error"]
    events = stream(client, "/api/locate/stream", json={"image": upload, "settings": {"review": True}})
    thread = events[0]["data"]["thread_id"]
    review = next(e for e in events if e["kind"] == "review")
    assert review["data"]["proposal"]["district"] == "西湖区"
    assert not any(e["kind"] == "result" for e in events)
    assert client.post(f"/api/threads/{thread}/truth", json={"place": "杭州"}).status_code == 400
    bad = client.post(f"/api/threads/{thread}/review", json={"action": "edit"})
    assert bad.status_code == 422  # an edit without a place
    done = stream(client, f"/api/threads/{thread}/review", json={"action": "approve"})
    assert next(e for e in done if e["kind"] == "result")["data"]["prediction"]["district"] == "西湖区"
    again = client.post(f"/api/threads/{thread}/review", json={"action": "approve"})
    assert again.status_code == 409 and "nothing waits" in again.json()["error"]
    kept = client.post(f"/api/threads/{thread}/truth", json={"place": "浙江省杭州市西湖区"})
    assert kept.status_code == 200 and kept.json()["adcode"] == "330106"
    assert client.post("/api/threads/20990101-000000-abcd/truth",
                       json={"place": "杭州"}).status_code == 404
