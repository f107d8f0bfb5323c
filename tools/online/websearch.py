"""Web search through ddgs (the maintained successor of duckduckgo-search): Chinese region,
a timeout, backoff when rate limited; personal mobile numbers are not sent unless allowed."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
from pydantic import BaseModel

from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure

PROVIDER = "ddgs"
ENDPOINT = "ddgs:text"
REGION = "cn-zh"
MAX_RESULTS = 8
BACKOFF_S = (2.0, 6.0)  # waits before the second and third try after a rate limit
INTERVAL_S = 1.0


class SearchResult(BaseModel):
    title: str
    snippet: str
    url: str


def personal_numbers(query: str) -> list[str]:
    """Mobile numbers in ``query``: a person's, unlike a shop's landline."""
    found = []
    for match in phonenumbers.PhoneNumberMatcher(query, "CN"):
        if phonenumbers.number_type(match.number) == phonenumbers.PhoneNumberType.MOBILE:
            found.append(match.raw_string)
    return found


def _search_once(query: str, timeout_s: float) -> list[dict]:
    from ddgs import DDGS

    return DDGS(timeout=int(max(1, timeout_s))).text(query, region=REGION,
                                                     max_results=MAX_RESULTS)


def search(client: OnlineClient, query: str, *,
           sleep: Callable[[float], None] | None = None) -> list[SearchResult]:
    config = client.config
    numbers = personal_numbers(query)
    if numbers and not config.allow_personal_numbers:
        raise ProviderFailure(PROVIDER, FailureKind.REFUSED, (
            f"the query contains a personal mobile number ({', '.join(numbers)}); not sent. "
            "Allow it with SINOLOC_ALLOW_PERSONAL_NUMBERS=1 or allow_personal_numbers"))
    if not config.web_search:
        raise ProviderFailure(PROVIDER, FailureKind.NOT_CONFIGURED,
                              "web search is off (SINOLOC_WEB_SEARCH=1 or web_search = true)")
    try:
        import ddgs  # noqa: F401 - the optional extra
    except ImportError as exc:
        raise ProviderFailure(PROVIDER, FailureKind.NOT_CONFIGURED, "the ddgs package is not "
                              "installed: pip install '.[online]' in the sinoloc clone") from exc
    pause = sleep or client.store.sleep

    def fetch() -> list[dict]:
        from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

        for attempt in range(len(BACKOFF_S) + 1):
            try:
                return _search_once(query, config.timeout_s)
            except RatelimitException as exc:
                if attempt == len(BACKOFF_S):
                    raise ProviderFailure(PROVIDER, FailureKind.QUOTA,
                                          f"rate limited after {attempt + 1} tries") from exc
                pause(BACKOFF_S[attempt])
            except TimeoutException as exc:
                raise ProviderFailure(PROVIDER, FailureKind.TIMEOUT, str(exc)) from exc
            except DDGSException as exc:
                raise ProviderFailure(PROVIDER, FailureKind.NETWORK, str(exc)) from exc
        raise AssertionError("unreachable")

    def validate(data) -> None:
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ProviderFailure(PROVIDER, FailureKind.MALFORMED, "not a list of results")

    raw = client.call(PROVIDER, ENDPOINT, {"q": query, "region": REGION}, fetch, validate,
                      INTERVAL_S)
    return [SearchResult(title=r.get("title") or "", snippet=r.get("body") or "",
                         url=r.get("href") or "") for r in raw]
