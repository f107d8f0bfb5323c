"""``prelude``: the mandatory first steps of every image (visual prior, OCR over every view, clue
lookup), then the image's locatability, shown to the policy as one message with the numbered
evidence."""

from __future__ import annotations

import time

from langchain_core.messages import HumanMessage

from sinoloc.agent.nodes.timing import timed
from sinoloc.agent.reasoning.digest import evidence_digest
from sinoloc.agent.reasoning.locatability import locatability
from sinoloc.agent.state import GeoState, evidence_in
from sinoloc.agent.toolbox.registry import PRELUDE
from sinoloc.agent.toolbox.runner import execute_calls
from sinoloc.prompts import render_prompt
from sinoloc.tools.locatability_clip import clip_locatability


def prelude(state: GeoState) -> dict:
    """The mandatory first steps (visual prior, OCR over every view, clue lookup), shown to
    the policy as one message with the numbered evidence."""
    start = time.perf_counter()
    calls = [{"name": name, "args": {}, "id": f"prelude_{i}", "type": "tool_call"}
             for i, name in enumerate(PRELUDE, start=1)]
    update = execute_calls(state, calls)
    image = state.get("image", {})
    evidence = evidence_in({"evidence": [*state.get("evidence", []), *update["evidence"]]})
    clip = clip_locatability(state["request"]["image_path"], image.get("sha256"))
    located = locatability(evidence, update["ocr_spans"], clip)
    update["locatability"] = located.model_dump(mode="json")
    results = "\n\n".join(f"### {t['tool']} ({t['status']})\n{t['summary']}"
                          for t in update["tool_trace"])
    text = render_prompt(
        "prelude", kind="panorama" if image.get("is_panorama") else "photo",
        width=image.get("width", "?"), height=image.get("height", "?"),
        tool_results=results, evidence=evidence_digest(evidence),
        locatability=f"{located.score:.2f} ({located.band}; "
                     + ", ".join(f"{k} {v:.2f}" for k, v in located.components.items()) + ")")
    update["messages"] = [HumanMessage(content=text)]
    update["timings"].update(timed("prelude", start)["timings"])
    return update
