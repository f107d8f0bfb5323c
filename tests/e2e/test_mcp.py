"""``sinoloc mcp`` with the official MCP SDK's own client: over stdio (the server a subprocess
the client starts) and over Streamable HTTP on 127.0.0.1. Listing, a locate on rendered signs
with the expected district, progress notifications, refusals (a path outside the images
folder, a client-chosen model), concurrent calls, the read-only tools and the token rule."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess

import httpx
import pytest
from imaging import hangzhou_shop, panorama_with_side_sign
from mcp_session import PYTHON, McpSession, data_uri

from sinoloc.agent.schemas import GeoPrediction

pytestmark = [pytest.mark.loopback, pytest.mark.slow]
SERVER = [PYTHON, "-m", "sinoloc.app.cli.main", "mcp", "--offline"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mcp-images")
    hangzhou_shop(folder / "shop.jpg")  # 浙江省杭州市西湖区: address, landline, plate
    panorama_with_side_sign(["成都市武侯区科华北路", "028-85551234"], heading=100).save(
        folder / "pano.jpg")  # 四川省成都市武侯区
    (folder.parent / "outside.jpg").write_bytes((folder / "shop.jpg").read_bytes())
    return folder


@pytest.fixture(scope="module")
def stdio(images):
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], "--images", str(images)],
                                   env=dict(os.environ))
    with McpSession(params) as session:
        yield session


def call(session: McpSession, name: str, arguments: dict, progress=None):
    return session.run(session.client.call_tool(name, arguments, progress_callback=progress))


def test_stdio_lists_the_tools_with_schemas(stdio):
    tools = {t.name: t for t in stdio.run(stdio.client.list_tools()).tools}
    assert set(tools) == {"locate_image", "explain", "candidates", "knowledge_search"}
    locate = tools["locate_image"]
    assert "image" in locate.input_schema["properties"]
    assert {"province", "district_adcode", "lat", "lon", "evidence"} <= set(
        locate.output_schema["properties"])
    assert all(tools[n].annotations.read_only_hint for n in ("explain", "candidates",
                                                             "knowledge_search"))


def test_stdio_locates_a_sign_with_progress_and_explains_it(stdio):
    seen: list[tuple[float, str]] = []

    async def progress(value, total, message):
        seen.append((value, message or ""))

    result = call(stdio, "locate_image", {"image": "shop.jpg"}, progress)
    assert not result.is_error, result.content
    prediction = GeoPrediction.model_validate(result.structured_content)
    assert (prediction.city, prediction.district, prediction.district_adcode) == (
        "杭州市", "西湖区", "330106")
    text = result.content[0].text
    assert "西湖区" in text and "WGS-84" in text
    run_id = re.search(r"run_id (\w+)", text).group(1)
    assert prediction.image.sha256.startswith(run_id)
    # progress: one notification per step of the run, in order, naming the tools as they run
    assert len(seen) >= 5
    assert [v for v, _ in seen] == sorted(v for v, _ in seen)
    assert any("ocr" in m for _, m in seen) and any(m.startswith("answer") for _, m in seen)

    explained = call(stdio, "explain", {"run_id": run_id}).structured_content
    assert explained["run_id"] == run_id and "西湖区" in explained["answer"]
    assert any(line.startswith("E") and "phone" in line for line in explained["evidence"])
    assert explained["verification"] and all(":" in c for c in explained["verification"])
    ranked = call(stdio, "candidates", {"run_id": run_id}).structured_content
    assert ranked["districts"][0]["adcode"] == "330106"
    assert ranked["provinces"][0]["name"] == "浙江省"


def test_stdio_refuses_paths_outside_the_images_folder_in_one_line(stdio, images):
    for name in ("../outside.jpg", str(images.parent / "outside.jpg"), "/etc/passwd",
                 "missing.jpg"):
        result = call(stdio, "locate_image", {"image": name})
        assert result.is_error
        message = result.content[0].text
        assert "not an image this server can read" in message and "\n" not in message
        assert str(images) not in message  # nothing about where the server keeps files


def test_stdio_refuses_a_client_chosen_model(stdio):
    for field, value in (("llm", "openai:gpt-5"), ("prior", "/tmp/ckpt"), ("base_url", "http://x")):
        result = call(stdio, "locate_image", {"image": "shop.jpg", "settings": {field: value}})
        assert result.is_error
        assert f"{field}: chosen by the server's operator" in result.content[0].text
    result = call(stdio, "locate_image", {"image": "shop.jpg", "settings": {"top_k": 500}})
    assert result.is_error and "top_k" in result.content[0].text  # bounds hold as in the API


def test_stdio_concurrent_calls_each_get_their_own_answer(stdio, images):
    async def three():
        return await asyncio.gather(
            stdio.client.call_tool("locate_image", {"image": "shop.jpg", "settings": {"top_k": 3}}),
            stdio.client.call_tool("locate_image", {"image": data_uri(images / "pano.jpg")}),
            stdio.client.call_tool("locate_image", {"image": data_uri(images / "shop.jpg")}))

    results = stdio.run(three(), timeout=400)
    assert not any(r.is_error for r in results), [r.content for r in results]
    districts = [r.structured_content["district"] for r in results]
    assert districts == ["西湖区", "武侯区", "西湖区"]
    assert len(results[0].structured_content["candidates"]) == 3  # its own settings
    assert len(results[2].structured_content["candidates"]) == 10


def test_stdio_knowledge_search_and_an_unknown_run_id(stdio):
    hits = call(stdio, "knowledge_search", {"query": "藏文招牌", "k": 3}).structured_content["result"]
    assert hits and hits[0]["id"].startswith("script-tibetan")
    assert any("西藏" in r for r in hits[0]["regions"]) and hits[0]["source"].startswith("http")
    missing = call(stdio, "explain", {"run_id": "0123456789ab"})
    assert missing.is_error and "no such answer" in missing.content[0].text


# ------------------------------------------------------------------ Streamable HTTP
@pytest.fixture(scope="module")
def http_server(images):
    process = subprocess.Popen([*SERVER, "--transport", "http", "--port", "0", "--token", "s3cret",
                                "--images", str(images)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(30)


def test_http_needs_the_token(http_server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx.post(http_server, json=body, headers={"Accept": "application/json"})
    assert response.status_code == 401 and "token" in response.text
    wrong = httpx.post(http_server, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_http_lists_locates_with_progress_and_refuses(http_server, images):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async def session():
        from mcp import Client

        seen = []

        async def progress(value, total, message):
            seen.append(message)

        headers = {"Authorization": "Bearer s3cret"}
        async with httpx2.AsyncClient(headers=headers, timeout=180) as http, \
                Client(streamable_http_client(http_server, http_client=http)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            located = await asyncio.gather(
                client.call_tool("locate_image", {"image": data_uri(images / "shop.jpg")},
                                 progress_callback=progress),
                client.call_tool("locate_image", {"image": "pano.jpg"}))
            refused = await client.call_tool("locate_image", {"image": "../outside.jpg"})
            model = await client.call_tool("locate_image", {"image": "pano.jpg",
                                                            "settings": {"llm": "ollama:qwen"}})
            return names, located, refused, model, seen

    async def run():
        return await asyncio.wait_for(session(), 400)

    names, located, refused, model, seen = asyncio.run(run())
    assert names == {"locate_image", "explain", "candidates", "knowledge_search"}
    assert [r.structured_content["district"] for r in located] == ["西湖区", "武侯区"]
    assert len(seen) >= 5 and any("ocr" in (m or "") for m in seen)
    assert refused.is_error and "not an image this server can read" in refused.content[0].text
    assert model.is_error and "llm: chosen by the server's operator" in model.content[0].text


def test_cli_refuses_bad_options_in_one_line(tmp_path):
    out = subprocess.run([*SERVER, "--images", str(tmp_path / "nope")], capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "--images" in out.stderr and "not a folder" in out.stderr
    out = subprocess.run([*SERVER, "--workers", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--workers" in out.stderr


