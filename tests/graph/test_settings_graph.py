"""The graph's context schema is the settings model, and a run's request fields win over the context's."""

from sinoloc.agent.settings import LocateSettings


def test_graph_context_schema_is_the_settings(tmp_path):
    from imaging import hangzhou_shop

    from sinoloc.agent.graph import build_graph

    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    graph = build_graph()
    schema = graph.get_context_jsonschema()
    assert set(schema["properties"]) == set(LocateSettings.model_fields)
    out = graph.invoke({"request": {"image_path": str(path)}}, context={"top_k": 3})
    assert len(out["prediction"]["candidates"]) == 3
    out = graph.invoke({"request": {"image_path": str(path), "top_k": 4}},
                       context=LocateSettings(top_k=2))
    assert len(out["prediction"]["candidates"]) == 4
