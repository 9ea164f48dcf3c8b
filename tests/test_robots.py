"""robots.txt outcomes (RFC 9309) against a real server on 127.0.0.1, and the crawler's use of them."""
from __future__ import annotations

import pytest

from pipelines.crawl import CrawlConfig, HostCrawl, new_state
from pipelines.frontier import Scope
from pipelines.io.fetch import FetchConfig, Fetcher
from pipelines.io.robots import RobotsPolicy, RobotsRules, fetch_rules
from tests import crawl_site as cs

UA = "gristmill-crawler/0.1 (+https://example.org/bot)"


@pytest.fixture()
def site():
    s = cs.Site().start()
    yield s
    s.stop()


def rules_for(site, route) -> RobotsRules:
    site.routes["/robots.txt"] = route
    f = Fetcher(FetchConfig(allow_loopback=True, read_timeout=1.0, request_seconds=2.0))
    rules, _ = fetch_rules(f.fetch, f"{site.base}/any/page.html")
    return rules


def test_parsed_rules_and_crawl_delay_for_our_agent(site):
    body = (b"User-agent: otherbot\nDisallow: /\n\n"
            b"User-agent: gristmill-crawler\nDisallow: /private/\nAllow: /private/ok.html\nCrawl-delay: 2.5\n")
    pol = RobotsPolicy(rules_for(site, cs.page(body, "text/plain")), UA)
    assert pol.allowed(f"{site.base}/public.html")
    assert not pol.allowed(f"{site.base}/private/x.html")
    assert pol.allowed(f"{site.base}/private/ok.html")
    assert pol.crawl_delay() == 2.5


def test_4xx_allows_everything(site):
    rules = rules_for(site, cs.status(404))
    assert rules.kind == "allow_all" and RobotsPolicy(rules, UA).allowed(f"{site.base}/x")


@pytest.mark.parametrize("code", [500, 503])
def test_5xx_disallows_everything(site, code):
    rules = rules_for(site, cs.status(code))
    assert rules.kind == "disallow_all" and not RobotsPolicy(rules, UA).allowed(f"{site.base}/x")


def test_unreachable_disallows_everything(site):
    rules = rules_for(site, cs.slow(3.0))
    assert rules.kind == "disallow_all" and "timeout" in rules.detail


def test_redirect_followed_to_the_rules(site):
    site.routes["/real-robots.txt"] = cs.page(b"User-agent: *\nDisallow: /no/\n", "text/plain")
    rules = rules_for(site, cs.redirect("/real-robots.txt"))
    assert rules.kind == "rules" and not RobotsPolicy(rules, UA).allowed(f"{site.base}/no/x")
    assert site.paths() == ["/robots.txt", "/real-robots.txt"]


def test_host_crawl_honours_rules_delay_and_fetches_robots_once(site):
    """HostCrawl without Beam: disallowed URL never requested, Crawl-delay between all requests,
    robots.txt not fetched again in the next round (the verdict travels in the host state)."""
    site.routes.update({"/robots.txt": cs.page(b"User-agent: *\nDisallow: /no/\nCrawl-delay: 0.3\n", "text/plain"),
                        "/a.html": cs.page(b"<html><body><a href='/b.html'>b</a></body></html>"),
                        "/b.html": cs.page(b"<html><body>b</body></html>"),
                        "/no/c.html": cs.page(b"<html><body>c</body></html>")})
    cfg = CrawlConfig(delay=0.05, allow_loopback=True, max_depth=1)
    host = f"127.0.0.1:{site.port}"
    scope = Scope(["127.0.0.1"])
    first = HostCrawl(cfg, scope, host, new_state(), 0)
    out = first.run([(f"{site.base}/a.html", 0), (f"{site.base}/no/c.html", 0)], share=2)
    state = dict(out)["state"][1]
    assert [v for t, v in out if t == "links"] == [(f"{site.base}/b.html", 1)]
    second = HostCrawl(cfg, scope, host, state, 1)
    second.run([(f"{site.base}/b.html", 1)], share=1)
    assert site.paths() == ["/robots.txt", "/a.html", "/b.html"]
    starts = site.starts()
    assert min(t2 - t1 for t1, t2 in zip(starts, starts[1:])) >= 0.3
    assert first.counts.to_dict()["fetch"]["dropped"] == {"robots.disallowed": 1}
    first.counts.check()
    second.counts.check()


def test_crawl_delay_beyond_limit_skips_host(site):
    site.routes["/robots.txt"] = cs.page(b"User-agent: *\nCrawl-delay: 120\n", "text/plain")
    cfg = CrawlConfig(delay=0.0, allow_loopback=True, max_crawl_delay=10)
    hc = HostCrawl(cfg, Scope(["127.0.0.1"]), f"127.0.0.1:{site.port}", new_state(), 0)
    hc.run([(f"{site.base}/a.html", 0)], share=1)
    assert site.paths() == ["/robots.txt"]
    assert hc.counts.to_dict()["fetch"]["dropped"] == {"robots.crawl_delay_too_long": 1}
