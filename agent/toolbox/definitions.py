"""How the tools are described to a model: which are offered in a run (``offered_tools``), their
definitions in the OpenAI function format (``tool_definitions``) with schemas every tool-calling
API receives intact (``api_schema``), and a model's arguments back in the tools' own form."""

from __future__ import annotations

from pydantic import BaseModel

from sinoloc.agent.toolbox.registry import SUBMIT_TOOL, TOOLS


class Offered(BaseModel):
    """The tools a model is offered in one run, and why the others are not."""

    excluded: frozenset[str]
    reasons: dict[str, str]


def offered_tools(request) -> Offered:
    """Tools switched off for the run (``disabled_tools``) or that cannot run in its
    configuration (each tool's :attr:`~sinoloc.agent.toolbox.registry.ToolSpec.unavailable`:
    ``cnn_prior`` without a prior checkpoint, ``web_search`` when the run is offline or web
    search is off, ``map_view`` offline or without a static-map provider key).
    Offering a tool that can only fail spends model calls and invites the model
    to lean on it."""
    reasons = {name: "switched off for this run" for name in request.disabled_tools}
    for name, spec in TOOLS.items():
        why = spec.unavailable(request) if spec.unavailable and name not in reasons else None
        if why:
            reasons[name] = why
    return Offered(excluded=frozenset(reasons), reasons=reasons)


def _is_free_object(schema: dict) -> bool:
    return schema.get("type") == "object" and not schema.get("properties") \
        and isinstance(schema.get("additionalProperties"), dict)


def api_schema(schema: dict, defs: dict | None = None) -> dict:
    """A pydantic JSON schema in the subset every tool-calling API receives intact (Gemini's
    OpenAPI subset, Ollama's typed properties, OpenAI's functions): ``$ref`` inlined, no
    ``title``, an optional field as its own type rather than ``anyOf [T, null]`` (which the
    ollama client and Gemini's converter reduce to a field with no type; the field is optional
    by not being required), and a free-form object (``dict[str, T]``, which Gemini rejects as an
    OBJECT with no properties) as a list of ``{key, value}`` pairs."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return api_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    out = {k: v for k, v in schema.items() if k not in ("title", "$defs")}
    variants = out.pop("anyOf", None)
    if variants is not None:
        typed = [v for v in variants if v.get("type") != "null"]
        if len(typed) != 1:
            raise ValueError(f"a union of {len(typed)} types has no portable schema")
        out = {**api_schema(typed[0], defs), **out}
        if out.get("default", 0) is None:
            out.pop("default")
    if _is_free_object(out):
        value = api_schema(out.pop("additionalProperties"), defs)
        out.pop("default", None)
        return {**out, "type": "array", "items": {
            "type": "object", "properties": {"key": {"type": "string"}, "value": value},
            "required": ["key", "value"]}}
    if "properties" in out:
        out["properties"] = {k: api_schema(v, defs) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = api_schema(out["items"], defs)
    return out


def _args_model(name: str) -> type[BaseModel]:
    from sinoloc.agent.schemas import Answer

    return Answer if name == SUBMIT_TOOL else TOOLS[name].args_model


def from_api_arguments(name: str, args: dict) -> dict:
    """A model's arguments in the tool's own form: the ``{key, value}`` pairs :func:`api_schema`
    offers for a free-form object become that object again."""
    if name != SUBMIT_TOOL and name not in TOOLS:
        return args
    properties = _args_model(name).model_json_schema().get("properties", {})
    out = dict(args)
    for field, schema in properties.items():
        value = out.get(field)
        if _is_free_object(schema) and isinstance(value, list):
            out[field] = {str(p.get("key")): p.get("value") for p in value
                          if isinstance(p, dict) and "key" in p}
    return out


def tool_definitions(exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Every tool but ``exclude`` (switched off for a run, or unable to run in it),
    ``submit_answer`` included, in the OpenAI function format that every LangChain chat model's
    ``bind_tools`` accepts, with schemas every API receives intact (:func:`api_schema`)."""
    def definition(name: str, description: str) -> dict:
        return {"type": "function", "function": {
            "name": name, "description": description,
            "parameters": api_schema(_args_model(name).model_json_schema())}}

    return [definition(s.name, s.description) for s in TOOLS.values() if s.name not in exclude] \
        + [definition(SUBMIT_TOOL, "Commit the final answer: names, WGS-84 coordinates and the "
                      "evidence ids behind each level. The answer is verified; a rejection "
                      "comes back with reasons.")]
