"""The crawl frontier as plain functions: URL normalisation, scope filtering, link extraction, and the
per-round page budget shared fairly across hosts. No Beam here; ``pipelines/crawl.py`` wires it up.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree
from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


class BadURL(ValueError):
    """``reason`` is a reason code: ``blocked.scheme`` (not http/https) or ``invalid_url``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def normalize(url: str) -> str:
    """One spelling per page: w3lib's canonical form (lower-case host, resolved dot segments, sorted
    query, percent-encoding fixed, fragment dropped) without the scheme's default port.
    Raises BadURL for what cannot be a crawlable URL."""
    url = url.strip()
    try:
        canon = canonicalize_url(url, keep_fragments=False)
        p = urlsplit(canon)
        port = p.port
    except ValueError as e:
        raise BadURL("invalid_url", f"{url[:200]!r}: {e}") from e
    if p.scheme not in _DEFAULT_PORTS:
        raise BadURL("blocked.scheme", f"{url[:200]!r}: scheme {p.scheme!r} is not http or https")
    if not p.hostname:
        raise BadURL("invalid_url", f"{url[:200]!r}: no host")
    host = p.hostname if ":" not in p.hostname else f"[{p.hostname}]"
    netloc = host if port in (None, _DEFAULT_PORTS[p.scheme]) else f"{host}:{port}"
    out = urlunsplit((p.scheme, netloc, p.path or "/", p.query, ""))
    if len(out) > MAX_URL_LENGTH:
        raise BadURL("invalid_url", f"URL is {len(out)} characters > {MAX_URL_LENGTH}")
    return out


def host_key(url: str) -> str:
    """The unit of politeness: host name and effective port (``example.com:443``)."""
    p = urlsplit(url)
    return f"{p.hostname}:{p.port or _DEFAULT_PORTS.get(p.scheme, 0)}"


@dataclass
class Scope:
    """Which URLs the crawl may enter. ``domains`` empty means the seeds' hosts (and their subdomains);
    ``["*"]`` means anywhere. ``allow`` regexes: at least one must match (if any are given);
    ``deny`` regexes: none may match."""

    domains: list[str] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.domains = [d.lower().lstrip(".") for d in self.domains]
        for name in ("allow", "deny"):
            for pat in getattr(self, name):
                try:
                    re.compile(pat)
                except re.error as e:
                    raise ValueError(f"'{name}' pattern {pat!r} is not a valid regex: {e}") from e
        self._allow = [re.compile(p) for p in self.allow]
        self._deny = [re.compile(p) for p in self.deny]

    def refusal(self, url: str) -> str | None:
        """A reason code if ``url`` (already normalized) is out of scope, else None."""
        host = urlsplit(url).hostname or ""
        if "*" not in self.domains and not any(host == d or host.endswith("." + d) for d in self.domains):
            return "frontier.off_domain"
        if self._allow and not any(p.search(url) for p in self._allow):
            return "frontier.not_allowed_pattern"
        if any(p.search(url) for p in self._deny):
            return "frontier.denied_pattern"
        return None


def extract_links(body: bytes, page_url: str, max_links: int) -> tuple[list[str], int]:
    """Absolute href targets of ``<a>`` and ``<area>`` in document order, honouring ``<base href>``,
    ``rel=nofollow`` and ``<meta name=robots content=nofollow>``. Returns (links, number cut by
    ``max_links``). Unparseable HTML gives no links."""
    if not body.strip():
        return [], 0
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return [], 0
    for meta in doc.iter("meta"):
        if (meta.get("name") or "").lower() == "robots" and "nofollow" in (meta.get("content") or "").lower():
            return [], 0
    base = page_url
    for b in doc.iter("base"):
        if b.get("href"):
            base = urljoin(page_url, b.get("href").strip())
            break
    links = []
    for el in doc.iter("a", "area"):
        href = el.get("href")
        if not href or "nofollow" in (el.get("rel") or "").lower():
            continue
        links.append(urljoin(base, href.strip()))
    return links[:max_links], max(0, len(links) - max_links)


def host_order(host: str) -> str:
    """A stable order that does not favour hosts by name (alphabetical order would)."""
    return hashlib.sha1(host.encode()).hexdigest()


def allocate(wants: dict[str, int], remaining: int) -> dict[str, int]:
    """Share ``remaining`` page fetches among hosts as a round-robin would: every host gets one page
    before any host gets a second. Equal shares (water-filling), the leftover one each to hosts in
    ``host_order``. Same inputs, same answer, on every worker."""
    wants = {h: w for h, w in wants.items() if w > 0}
    if remaining <= 0 or not wants:
        return {h: 0 for h in wants}
    if sum(wants.values()) <= remaining:
        return dict(wants)
    lo, hi = 0, max(wants.values())
    while lo < hi:  # largest level L with sum(min(w, L)) <= remaining
        mid = (lo + hi + 1) // 2
        if sum(min(w, mid) for w in wants.values()) <= remaining:
            lo = mid
        else:
            hi = mid - 1
    share = {h: min(w, lo) for h, w in wants.items()}
    left = remaining - sum(share.values())
    for h in sorted(wants, key=host_order):
        if left == 0:
            break
        if wants[h] > share[h]:
            share[h] += 1
            left -= 1
    return share


def read_seeds(lines: list[str]) -> tuple[list[str], dict[str, int], list[tuple[str, str, str]]]:
    """Seed file lines -> (normalized unique seeds in file order, drop counts, rejected (url, reason, detail)).
    Blank lines and ``#`` comments are not seeds and are not counted."""
    seeds, seen, drops, rejected = [], set(), {}, []
    for line in lines:
        raw = line.strip()
        if not raw or raw.startswith("#"):
            continue
        try:
            url = normalize(raw)
        except BadURL as e:
            reason = "blocked.scheme" if e.reason == "blocked.scheme" else "seeds.invalid_url"
            drops[reason] = drops.get(reason, 0) + 1
            rejected.append((raw, reason, str(e)))
            continue
        if url in seen:
            drops["seeds.duplicate"] = drops.get("seeds.duplicate", 0) + 1
            rejected.append((raw, "seeds.duplicate", url))
            continue
        seen.add(url)
        seeds.append(url)
    return seeds, drops, rejected
