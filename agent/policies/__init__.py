"""Who fills the policy slot: the deterministic offline order (``deterministic``) or a
language model through LangChain (``model``); the model clients themselves are in
:mod:`sinoloc.agent.llm`."""
