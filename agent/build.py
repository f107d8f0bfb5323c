"""One way to build a locator: settings (:class:`~sinoloc.agent.settings.LocateSettings`) and a
model spec (:class:`~sinoloc.agent.llm.LlmSpec`) in, a :class:`Locator` out. Every surface uses
it: ``locate`` (one image or a batch, local or on Ray actors), ``chat``, ``serve``, eval's
workers and the served graph's entry (``langgraph.json``).

The order is the same for all of them, so a mistake is caught before any work and reads the
same everywhere: the OCR backend and the prior can load, the user's clue files are valid, the
model spec obeys the offline rule (before it is built: a hosted model needs no key to be
refused), a ``local:`` model directory holds a model, then the policy is built and checked once
more (a ``python:`` model is judged by its address once it exists). Problems are ``ValueError``
with one line.

The environment is not read here: the edges read it once (:class:`~sinoloc.agent.settings.Environment`)
and pass what it says in ``settings`` and ``spec``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sinoloc.agent.components import check_components
from sinoloc.agent.llm.spec import LlmSpec
from sinoloc.agent.policies import Policy, build_policy
from sinoloc.agent.settings import LocateSettings, check_policy, check_spec


@dataclass(frozen=True)
class Locator:
    """A checked policy and the settings every image is located with."""

    policy: Policy
    settings: LocateSettings

    @property
    def defaults(self) -> dict:
        """The settings given (not the field defaults): a graph run's ``configurable``."""
        return self.settings.model_dump(exclude_unset=True)

    def geolocator(self):
        """A :class:`~sinoloc.agent.api.Geolocator` over this policy and these settings."""
        from sinoloc.agent.api import Geolocator
        from sinoloc.agent.settings import Environment

        # the environment was read by whoever made the settings: not read again here
        return Geolocator(self.policy, settings=self.settings, environment=Environment())

    def graph(self, checkpointer=None, boundary=None):
        """The compiled graph over this policy (a served graph gives its ``boundary``)."""
        from sinoloc.agent.graph import build_graph

        return build_graph(self.policy, checkpointer, boundary=boundary)


def use_knowledge_files(files: Sequence[str] | None) -> None:
    """Make ``files`` the user's clue files of this process (``None`` keeps the environment's
    ``SINOLOC_KNOWLEDGE_FILES``) and, when there are any, load the merged corpus now: a bad
    file is a ``ValueError`` (``CorpusError``) before any image. The shipped corpus alone is
    checked by the tests: it loads on first use (the CLI's warm-up thread), not here on the
    start-up path."""
    from sinoloc.tools.knowledge.corpus import get_corpus, use_user_files, user_files

    if files is not None:
        use_user_files(files)
    if user_files():
        get_corpus()


def check_locator(settings: LocateSettings, spec: LlmSpec) -> None:
    """What can be checked without loading a model: the components the settings name, the
    spec under the offline rule, a ``local:`` model directory."""
    check_components(settings.ocr_backend, settings.prior, settings.offline)
    _check_model(spec, settings.offline)


def _check_model(spec: LlmSpec, offline: bool) -> None:
    check_spec(spec, offline)
    if spec.provider == "local":
        from sinoloc.agent.llm.qwen_local import LocalModelError, check_model_dir

        try:
            check_model_dir(spec.model)
        except LocalModelError as exc:
            raise ValueError(str(exc)) from exc


def checked_policy(spec: LlmSpec, offline: bool) -> Policy:
    """The policy ``spec`` names (heavy backends imported only here), refused when the run is
    offline and its model is hosted."""
    try:
        policy = build_policy(spec)
    except Exception as exc:
        # imported here: its module loads LangChain's model classes, which no other policy needs
        from sinoloc.agent.llm.qwen_local import LocalModelError

        if isinstance(exc, LocalModelError):
            raise ValueError(str(exc)) from exc
        raise
    check_policy(policy, offline)
    return policy


def build_locator(settings: LocateSettings | dict, spec: LlmSpec | None = None, *,
                  knowledge_files: Sequence[str] | None = None) -> Locator:
    """The locator for ``settings`` and ``spec`` (default: the deterministic policy), every
    check done (see the module); ``knowledge_files`` replace the process's clue files."""
    settings = settings if isinstance(settings, LocateSettings) \
        else LocateSettings.model_validate(settings)
    spec = spec or LlmSpec(provider="none")
    check_components(settings.ocr_backend, settings.prior, settings.offline)
    use_knowledge_files(knowledge_files)
    _check_model(spec, settings.offline)
    return Locator(checked_policy(spec, settings.offline), settings)


__all__ = ["Locator", "build_locator", "check_locator", "checked_policy", "use_knowledge_files"]
