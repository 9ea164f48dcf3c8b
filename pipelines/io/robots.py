"""robots.txt for the crawler: fetched once per host per run, parsed with protego (not by hand).

What the outcome of fetching it means follows RFC 9309 section 2.3.1: a 2xx body is parsed; 4xx means
no rules (crawl everything); 5xx or no answer at all (timeout, connection refused) means "disallow
everything" for the rest of the run, because a server in trouble should not be crawled. Redirects
are followed up to five hops, each one through the same safe fetcher. Only the first 512 KiB are
parsed (the RFC asks parsers to handle at least 500 KiB).

The verdict is kept as a small picklable ``RobotsRules(kind, body)`` so it can travel with the host's
state from one crawl round to the next instead of being fetched again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import urljoin, urlsplit

from protego import Protego

from pipelines.io.fetch import FetchResult

MAX_ROBOTS_BYTES = 512 * 1024
MAX_ROBOTS_REDIRECTS = 5


@dataclass(frozen=True)
class RobotsRules:
    kind: str          # "rules" (parse body), "allow_all" (4xx) or "disallow_all" (5xx / unreachable)
    body: str = ""
    detail: str = ""   # why, for disallow_all: e.g. "robots.txt answered 503"

    def parser(self) -> Protego | None:
        return Protego.parse(self.body) if self.kind == "rules" else None


class RobotsPolicy:
    """Answers for one host under one user agent; built from RobotsRules."""

    def __init__(self, rules: RobotsRules, user_agent: str) -> None:
        self.rules = rules
        # protego matches the product token ("gristmill-crawler"), not the full User-Agent string.
        self.agent = user_agent.split("/", 1)[0].strip() or user_agent
        self._parser = rules.parser()

    def allowed(self, url: str) -> bool:
        if self.rules.kind == "disallow_all":
            return False
        if self._parser is None:
            return True
        return bool(self._parser.can_fetch(url, self.agent))

    def crawl_delay(self) -> float | None:
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(self.agent)
        return float(delay) if delay is not None else None


def robots_url(page_url: str) -> str:
    p = urlsplit(page_url)
    return f"{p.scheme}://{p.netloc}/robots.txt"


def fetch_rules(fetch: Callable[[str], FetchResult], page_url: str) -> tuple[RobotsRules, list[FetchResult]]:
    """Fetch robots.txt for ``page_url``'s host with ``fetch`` (which must wait politely itself).

    Returns the rules and every response seen (one per hop), so the caller can count the requests.
    A refused address is reported as kind "blocked" with the fetcher's reason in detail.
    """
    url = robots_url(page_url)
    seen: list[FetchResult] = []
    for _ in range(MAX_ROBOTS_REDIRECTS + 1):
        res = fetch(url)
        seen.append(res)
        if res.error in ("blocked.private_address", "blocked.scheme"):
            return RobotsRules("blocked", detail=f"{res.error}: {res.detail}"), seen
        if res.error is not None and res.status == 0:
            return RobotsRules("disallow_all", detail=f"robots.txt unreachable ({res.error}: {res.detail})"), seen
        if res.status in (301, 302, 303, 307, 308) and res.header("Location"):
            url = urljoin(url, res.header("Location"))
            continue
        if 200 <= res.status < 300 and res.error is None:
            body = res.body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
            return RobotsRules("rules", body=body), seen
        if 200 <= res.status < 300:  # too large or badly encoded: what we have cannot be trusted whole
            return RobotsRules("disallow_all", detail=f"robots.txt unreadable ({res.error})"), seen
        if 400 <= res.status < 500:
            return RobotsRules("allow_all", detail=f"robots.txt answered {res.status}"), seen
        return RobotsRules("disallow_all", detail=f"robots.txt answered {res.status}"), seen
    return RobotsRules("allow_all", detail=f"more than {MAX_ROBOTS_REDIRECTS} redirects"), seen
