"""Nothing leaves the machine unless the user configured it: dependency telemetry off.

Some dependencies report usage on their own: onnxruntime (RapidOCR's runtime) writes a device id
under ``~/.cache/Microsoft/DeveloperTools`` and sends events to ``mobile.events.data.microsoft.com``
from any process that lives long enough; the Hugging Face hub reports downloads; LangGraph's CLI
sends analytics. Each honours an environment variable read when it loads, so these are set when
``sinoloc`` is imported — before any of them — which covers every entry point (the CLI, the
Python API, ``build_graph``, ``langgraph.json``'s entry, eval and training workers, which are
spawned processes that import ``sinoloc`` again). A value the user set is kept: setting one of
them on purpose is configuring it.

``onnxruntime.disable_telemetry_events()`` alone does not stop the events (tried with 1.32), and
an onnxruntime that was imported before ``sinoloc`` has already read its environment: then the
call below is the best left to do, and :func:`telemetry_status` says so.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys

# variable → value that switches the dependency's telemetry off
TELEMETRY_OFF: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",          # onnxruntime (1DS events, device id file)
    "HF_HUB_DISABLE_TELEMETRY": "1",       # huggingface_hub / transformers download reports
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",     # `langgraph dev` usage analytics
    "RAY_USAGE_STATS_ENABLED": "0",        # Ray's usage stats (the optional cluster engine)
    "DO_NOT_TRACK": "1",                   # the cross-tool convention some libraries honour
}


def disable_telemetry() -> list[str]:
    """Switch dependency telemetry off for this process and its children; returns the names of
    the dependencies that were already loaded (their setting may have been read already)."""
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
    late = []
    if "onnxruntime" in sys.modules:
        late.append("onnxruntime")
        if os.environ.get("ORT_DISABLE_TELEMETRY") == "1":
            with contextlib.suppress(AttributeError):  # a build without telemetry
                sys.modules["onnxruntime"].disable_telemetry_events()
    return late


def is_loopback_host(host: str | None) -> bool:
    """Whether a host name or address never leaves this machine: ``localhost`` or a loopback
    address (127.0.0.0/8, ``::1``; brackets allowed). The one definition behind the offline rule,
    the web app's Host check, ``serve``'s token rule and a local Ray cluster."""
    if not host:
        return False
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def telemetry_status() -> dict[str, str | None]:
    """The telemetry variables as this process sees them (for diagnostics and tests)."""
    return {name: os.environ.get(name) for name in TELEMETRY_OFF}


__all__ = ["TELEMETRY_OFF", "disable_telemetry", "is_loopback_host", "telemetry_status"]
