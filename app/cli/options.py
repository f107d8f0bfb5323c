"""Options that several commands share, defined once so that their names, metavars, defaults
and help cannot drift apart (``locate``, ``chat`` and ``eval run`` all take the per-image
budgets). Importing this module imports nothing heavy (the settings module: pydantic only): every
``sinoloc`` command builds its parser."""

from __future__ import annotations


def add_budget_options(parser) -> None:
    """The per-image budgets of the agent (a parser or an argument group), generated from the
    settings (:mod:`sinoloc.agent.settings`): their defaults, bounds and help are the fields'."""
    from sinoloc.agent.settings import bounded, field_default, field_help

    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="cap on generated tokens per model call (default: the model's)")
    for name, metavar in (("max_model_calls", "N"), ("max_tool_calls", "N"),
                          ("max_seconds", "SECONDS")):
        parser.add_argument("--" + name.replace("_", "-"), type=bounded(name),
                            default=field_default(name), metavar=metavar, help=field_help(name))
    parser.add_argument("--samples", type=bounded("samples"), default=field_default("samples"),
                        metavar="K", help=field_help("samples") + " (default 1)")
    parser.add_argument("--sample-selector", choices=["evidence", "verifier"],
                        default=field_default("sample_selector"), help=field_help("sample_selector"))


def add_model_timeout(parser) -> None:
    from sinoloc.agent.llm.spec import DEFAULT_TIMEOUT_S

    parser.add_argument("--model-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="limit on one model call (within --max-seconds)")


def add_run_options(parser, env) -> None:
    """OCR, language model, budgets and clue files: shared by locate, chat and serve. ``env``
    (:class:`~sinoloc.agent.settings.Environment`) gives the defaults the environment sets."""
    from sinoloc.agent.settings import OCR_BACKENDS

    parser.add_argument("--ocr", default=env.ocr_backend,
                        choices=OCR_BACKENDS, help="OCR backend ($SINOLOC_OCR)")
    parser.add_argument("--prior", metavar="DIR", default=None, help=(
        "visual prior checkpoint (from `sinoloc prior train` or `prior zero-shot`); default "
        "$SINOLOC_PRIOR_CHECKPOINT"))
    parser.add_argument("--offline", action="store_true", help=(
        "no network call at all: geocoders and web search answer from offline data only, and a "
        "hosted --llm is refused (also SINOLOC_OFFLINE=1)"))
    llm = parser.add_argument_group("language model (default: the deterministic offline policy)")
    llm.add_argument("--llm", default=env.llm, metavar="SPEC", help=(
        "none | provider:model (google_genai:gemini-2.5-flash, ollama:qwen2.5vl:7b, "
        "openai:MODEL with --base-url) | local:/path/to/qwen-vl[+/path/to/lora] | "
        "python:package.module:factory (your own LangChain chat model); "
        "default $SINOLOC_LLM or none"))
    llm.add_argument("--base-url", default=env.base_url, metavar="URL", help=(
        "OpenAI-compatible server URL (vLLM, …); default $SINOLOC_LLM_BASE_URL"))
    add_budget_options(llm)
    add_model_timeout(llm)
    from sinoloc.app.cli.knowledge import add_files_argument

    add_files_argument(parser)


__all__ = ["add_budget_options", "add_model_timeout", "add_run_options"]
