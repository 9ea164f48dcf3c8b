"""``gristmill crawl --seeds FILE --output DIR [--config crawl.yaml]``: a polite, safe crawl to WARC files.

Shape of the Beam job (one pipeline, rounds unrolled up to ``max_depth``; round r fetches depth r):

    frontier_r ──key by host──┐
    host state_r ─────────────┴ CoGroupByKey ─▶ FetchHostsFn ─▶ pages ─────────────▶ (all rounds) WARC shards
          budget side input (fair share per host)   │          ├▶ host state_{r+1} (robots, next allowed time, pages spent)
                                                    │          ├▶ links ─┐
                                 everything seen so far ─────────────────┴ CoGroupByKey by URL ─▶ frontier_{r+1}
                                                    └▶ counts, rejected rows ─▶ report.json, rejected/*.parquet

* One worker owns a host for a whole round (its URLs arrive as one group) and enforces the delay
  between its requests: max(``delay``, robots Crawl-delay), carried to the next round in the host state,
  as is the robots.txt verdict (fetched once per host per run). A worker fetches the hosts it owns
  concurrently on ``threads`` threads, so politeness does not serialize the crawl.
* Breadth before depth: rounds are BFS levels, and each round's page budget is shared across hosts as
  a round-robin would (one page for every host before a second for any; ``frontier.allocate``).
* The job stops when the frontier is empty (later rounds run on empty collections) or the budget
  (``max_pages``, ``max_pages_per_host``) is spent. Every URL that enters a stage is counted out, dropped
  or failed with a reason, and report.json checks ``in = out + dropped + failed`` per stage.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urljoin

import apache_beam as beam
import yaml
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipelines import frontier
from pipelines.io.atomic import join, makedirs, mark_done, read_done, sha256_of, write_json_atomic
from pipelines.io.fetch import FetchConfig, Fetcher, FetchResult
from pipelines.io.parquet import doc_schema, to_table, write_table_atomic
from pipelines.io.robots import RobotsPolicy, RobotsRules, fetch_rules, robots_url
from pipelines.io.warc_write import write_warc
from pipelines.options import parse
from pipelines.report import build_report, summary_table, write_report
from pipelines.stages import StageCounts

# Fetch outcomes that are a decision (counted as dropped); anything else is a failure.
DROP_REASONS = {"robots.disallowed", "robots.crawl_delay_too_long", "blocked.scheme", "blocked.private_address",
                "fetch.redirected", "redirect.too_many", "redirect.invalid"}
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class CrawlConfig:
    max_depth: int = 2               # link hops from a seed; seeds are depth 0
    max_pages: int = 1000            # fetch attempts in total (budget), all hosts together
    max_pages_per_host: int = 100    # fetch attempts per host for the whole run
    allowed_domains: list = field(default_factory=list)  # empty: the seeds' hosts and subdomains; ["*"]: any
    allow_patterns: list = field(default_factory=list)   # regexes; if given, a URL must match one
    deny_patterns: list = field(default_factory=list)    # regexes; a URL matching one is skipped
    user_agent: str = FetchConfig.user_agent
    delay: float = 1.0               # seconds between requests to one host (robots Crawl-delay may raise it)
    max_crawl_delay: float = 30.0    # a host asking for a longer Crawl-delay is skipped, not crawled faster
    connect_timeout: float = FetchConfig.connect_timeout
    read_timeout: float = FetchConfig.read_timeout
    request_seconds: float = FetchConfig.request_seconds
    max_body_bytes: int = FetchConfig.max_body_bytes
    max_decoded_bytes: int = FetchConfig.max_decoded_bytes
    max_header_bytes: int = FetchConfig.max_header_bytes
    max_redirects: int = 5           # same-host hops followed in place; other hosts go to the frontier
    max_links_per_page: int = 1000
    threads: int = 16                # hosts fetched at once per worker
    warc_shards: int = 4             # pages are written to this many WARC files (by host hash)
    allow_loopback: bool = False     # tests and local demos only
    allow_private: bool = False      # loopback + private ranges; link-local and metadata stay refused
    resolve: dict = field(default_factory=dict)  # host -> IP literal, before DNS (benchmarks)

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_pages", "max_pages_per_host", "max_redirects", "max_links_per_page",
                     "threads", "warc_shards"):
            v = getattr(self, name)
            low = 0 if name in ("max_depth", "max_redirects", "max_links_per_page") else 1
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name!r} must be an integer >= {low} (got {v!r})")
        for name in ("delay", "max_crawl_delay"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{name!r} must be a number of seconds >= 0 (got {v!r})")
        frontier.Scope(self.allowed_domains, self.allow_patterns, self.deny_patterns)  # validates regexes
        self.fetch_config()  # validates timeouts and caps

    def fetch_config(self) -> FetchConfig:
        names = {f.name for f in dataclasses.fields(FetchConfig)}
        return FetchConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})

    @classmethod
    def from_yaml(cls, path: str) -> dict:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of crawl options, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown option(s) {unknown}; known: {sorted(known)}")
        return data


def new_state() -> dict:
    # last_end: wall-clock end of the previous request to this host (any round, any worker); delay: the
    # host's delay once its robots.txt is known; spent: fetch attempts charged to the host's budget.
    return {"robots": None, "last_end": 0.0, "spent": 0, "delay": None}


def shard_of(host: str, shards: int) -> int:
    return int(hashlib.sha1(host.encode()).hexdigest()[:8], 16) % shards


def _row(url: str, host: str, stage: str, reason: str, detail: str = "", depth: int = 0, round_no: int = 0) -> dict:
    return {"url": url, "host": host, "stage": stage, "reason": reason, "detail": (detail or "")[:500],
            "depth": depth, "round": round_no}


class HostCrawl:
    """Everything one round does for one host, as a plain object (tests can call it without Beam)."""

    def __init__(self, cfg: CrawlConfig, scope: frontier.Scope, host: str, state: dict, round_no: int) -> None:
        self.cfg, self.scope, self.host, self.round = cfg, scope, host, round_no
        self.state = dict(state)
        self.counts = StageCounts()
        self.out: list[tuple[str, object]] = []  # (tag, value)
        self.fetcher = Fetcher(cfg.fetch_config())
        self.seq = 0

    def polite_fetch(self, url: str) -> FetchResult:
        # Measured from the end of the previous response, so the gap between request starts is at least
        # the delay; the delay in force is read now, so a Crawl-delay learnt from robots.txt applies at once.
        delay = self.state["delay"] if self.state["delay"] is not None else self.cfg.delay
        wait = self.state["last_end"] + delay - time.time()
        if wait > 0:
            time.sleep(min(wait, delay))  # never longer than the delay itself, whatever another clock said
        res = self.fetcher.fetch(url)
        self.state["last_end"] = time.time()
        return res

    def reject(self, stage: str, reason: str, url: str, detail: str, depth: int, fail: bool = False) -> None:
        (self.counts.fail if fail else self.counts.drop)(stage, reason)
        self.out.append(("rejected", _row(url, self.host, stage, reason, detail, depth, self.round)))

    def run(self, items: list[tuple[str, int]], share: int) -> list[tuple[str, object]]:
        try:
            self._run(items, share)
        finally:
            self.fetcher.close()
        self.out.append(("state", (self.host, self.state)))
        self.out.append(("counts", self.counts.to_dict()))
        return self.out

    def _run(self, items: list[tuple[str, int]], share: int) -> None:
        items = sorted(set(items), key=lambda ud: (ud[1], ud[0]))
        if not items:
            return
        self.counts.enter("budget", len(items))
        host_left = max(0, self.cfg.max_pages_per_host - self.state["spent"])
        take = min(share, host_left, len(items))
        for url, depth in items[take:]:
            reason = "budget.max_pages_per_host" if take == host_left else "budget.max_pages"
            self.reject("budget", reason, url, f"{take} of {len(items)} URLs fetched this round", depth)
        selected = items[:take]
        self.counts.out("budget", len(selected))
        self.state["spent"] += len(selected)
        self.out.append(("spent", len(selected)))
        if not selected:
            return
        self.counts.enter("fetch", len(selected))
        policy = self._robots(selected[0][0])
        if isinstance(policy, str):  # the whole host is refused
            reason, detail = policy.split(":", 1)
            for url, depth in selected:
                self.reject("fetch", reason, url, detail.strip(), depth)
            return
        for url, depth in selected:
            self._fetch_page(url, depth, policy)

    def _robots(self, first_url: str):
        """A RobotsPolicy, or 'reason: detail' when no page of this host may be fetched."""
        if self.state["robots"] is None:
            self.counts.enter("robots")
            rules, responses = fetch_rules(self.polite_fetch, first_url)
            if rules.kind == "blocked":
                self.counts.drop("robots", "robots.blocked")
            elif rules.kind == "disallow_all":
                self.counts.fail("robots", "robots.unavailable")
                self.out.append(("rejected", _row(robots_url(first_url), self.host, "robots",
                                                  "robots.unavailable", rules.detail, 0, self.round)))
            else:
                self.counts.out("robots")
            self.state["robots"] = (rules.kind, rules.body, rules.detail)
        kind, body, detail = self.state["robots"]
        if kind == "blocked":
            return detail  # "blocked.private_address: ..." or "blocked.scheme: ..."
        policy = RobotsPolicy(RobotsRules(kind, body, detail), self.cfg.user_agent)
        if kind == "disallow_all":
            return f"robots.disallowed: {detail}; everything disallowed for this run"
        crawl_delay = policy.crawl_delay()
        if crawl_delay is not None and crawl_delay > self.cfg.max_crawl_delay:
            return (f"robots.crawl_delay_too_long: Crawl-delay {crawl_delay:g} s > max_crawl_delay "
                    f"{self.cfg.max_crawl_delay:g} s")
        self.state["delay"] = max(self.cfg.delay, crawl_delay or 0.0)
        return policy

    def _fetch_page(self, url: str, depth: int, policy: RobotsPolicy) -> None:
        current = url
        for _hop in range(self.cfg.max_redirects + 1):
            if not policy.allowed(current):
                self.reject("fetch", "robots.disallowed", current, "", depth)
                return
            res = self.polite_fetch(current)
            if res.error is not None:
                self.reject("fetch", res.error, current, res.detail, depth, fail=res.error not in DROP_REASONS)
                return
            if res.status in REDIRECTS and res.header("Location"):
                try:
                    target = frontier.normalize(urljoin(current, res.header("Location")))
                except frontier.BadURL as e:
                    reason = "blocked.scheme" if e.reason == "blocked.scheme" else "redirect.invalid"
                    self.reject("fetch", reason, current, f"Location: {str(e)[:300]}", depth)
                    return
                if frontier.host_key(target) != self.host:
                    # Another host's owner fetches it next round, with its own robots, delay and checks.
                    self.reject("fetch", "fetch.redirected", current, f"-> {target} (queued)", depth)
                    self._links([target], depth)
                    return
                self.out.append(("seen", target))
                current = target
                continue
            if 200 <= res.status < 300:
                self._page(res, current, depth)
                return
            if res.status == 404:
                self.reject("fetch", "http.404", current, "", depth)
            elif 400 <= res.status < 500:
                self.reject("fetch", f"http.{res.status}", current, "", depth)
            elif 500 <= res.status < 600:
                self.reject("fetch", "http.5xx", current, f"status {res.status}", depth, fail=True)
            else:
                self.reject("fetch", "http.other", current, f"status {res.status}", depth, fail=True)
            return
        self.reject("fetch", "redirect.too_many", url, f"more than max_redirects={self.cfg.max_redirects}", depth)

    def _page(self, res: FetchResult, url: str, depth: int) -> None:
        self.counts.out("fetch")
        self.seq += 1
        page = {"url": url, "ip": res.ip, "fetch_time": res.fetch_time, "request": res.request,
                "status": res.status, "reason": res.reason, "http_version": res.http_version,
                "headers": res.headers, "body": res.body, "host": self.host, "round": self.round, "seq": self.seq}
        self.out.append(("pages", (shard_of(self.host, self.cfg.warc_shards), page)))
        ctype = (res.header("Content-Type") or "text/html").lower()
        if depth < self.cfg.max_depth and ("html" in ctype or "xml" in ctype):
            links, cut = frontier.extract_links(res.body, url, self.cfg.max_links_per_page)
            if cut:
                self.counts.enter("links", cut)
                self.counts.drop("links", "links.capped", cut)
            self._links(links, depth)

    def _links(self, links: list[str], depth: int) -> None:
        for link in links:
            self.counts.enter("links")
            if depth + 1 > self.cfg.max_depth:
                self.counts.drop("links", "links.too_deep")
                continue
            try:
                norm = frontier.normalize(link)
            except frontier.BadURL as e:
                self.counts.drop("links", "blocked.scheme" if e.reason == "blocked.scheme" else "links.invalid_url")
                continue
            refusal = self.scope.refusal(norm)
            if refusal:
                self.counts.drop("links", refusal.replace("frontier.", "links."))
                continue
            self.counts.out("links")
            self.out.append(("links", (norm, depth + 1)))


def _windowed(tag: str, value):
    return beam.pvalue.TaggedOutput(tag, WindowedValue(value, GlobalWindow().max_timestamp(), [GlobalWindow()]))


class FetchHostsFn(beam.DoFn):
    """Input: (host, {"urls": [(url, depth)], "state": [state]}). Hosts of a bundle run concurrently on a
    thread pool; each host is crawled by one thread, sequentially, so its delay holds."""

    TAGS = ("pages", "links", "seen", "state", "counts", "rejected", "spent")

    def __init__(self, cfg: dict, scope_domains: list[str], round_no: int) -> None:
        self.cfg_dict, self.scope_domains, self.round = cfg, scope_domains, round_no

    def setup(self) -> None:
        self.cfg = CrawlConfig(**self.cfg_dict)
        self.scope = frontier.Scope(self.scope_domains, self.cfg.allow_patterns, self.cfg.deny_patterns)
        self.pool = ThreadPoolExecutor(max_workers=self.cfg.threads, thread_name_prefix="crawl")

    def start_bundle(self) -> None:
        self.pending = []

    def process(self, element, alloc):
        host, groups = element
        states = list(groups["state"])
        crawl = HostCrawl(self.cfg, self.scope, host, states[0] if states else new_state(), self.round)
        self.pending.append(self.pool.submit(crawl.run, list(groups["urls"]), alloc.get(host, 0)))
        # Bound what is held in memory: at most twice `threads` hosts in flight or finished but not emitted.
        if len(self.pending) >= 2 * self.cfg.threads:
            wait(self.pending, return_when=FIRST_COMPLETED)
        done = [f for f in self.pending if f.done()]
        self.pending = [f for f in self.pending if not f.done()]
        for fut in done:
            for tag, value in fut.result():
                yield beam.pvalue.TaggedOutput(tag, value)

    def finish_bundle(self):
        pending, self.pending = self.pending, []
        for fut in pending:
            for tag, value in fut.result():
                yield _windowed(tag, value)

    def teardown(self) -> None:
        self.pool.shutdown(wait=True)


def dedup_links(element):
    """(url, {"new": [depth...], "seen": [...]}) -> the URL once if never seen before, and its counts."""
    url, groups = element
    depths = list(groups["new"])
    if not depths:
        return
    counts = StageCounts()
    counts.enter("seen", len(depths))
    if list(groups["seen"]):
        counts.drop("seen", "seen.already_seen", len(depths))
    else:
        counts.out("seen")
        if len(depths) > 1:
            counts.drop("seen", "seen.duplicate", len(depths) - 1)
        yield beam.pvalue.TaggedOutput("frontier", (url, min(depths)))
    yield beam.pvalue.TaggedOutput("counts", counts.to_dict())


class MergeCounts(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, acc, counts):
        return StageCounts(acc).merge(counts).stages

    def merge_accumulators(self, accs):
        total = StageCounts({})
        for a in accs:
            total.merge(a)
        return total.stages

    def extract_output(self, acc):
        return acc


REJECT_SCHEMA = doc_schema({"depth": "int", "round": "int"}, rejected=True)


def write_warc_shard(element, out_dir: str, shards: int, info: dict) -> dict:
    shard, pages = element
    pages = sorted(pages, key=lambda p: (p["round"], p["host"], p["seq"]))
    path = join(out_dir, "warc", f"crawl-{shard:05d}-of-{shards:05d}.warc.gz")
    rec = write_warc(path, pages, info)
    return {"path": path, "rows": rec["rows"], "sha256": rec["sha256"], "pages": len(pages)}


def write_rejected_shard(element, out_dir: str, shards: int) -> dict:
    shard, rows = element
    rows = sorted(rows, key=lambda r: (r["round"], r["host"], r["url"], r["reason"]))
    path = join(out_dir, "rejected", f"crawl-{shard:05d}-of-{shards:05d}.parquet")
    sha = write_table_atomic(path, to_table(rows, REJECT_SCHEMA))
    rec = mark_done(path, len(rows), sha)
    return {"path": path, "rows": rec["rows"], "sha256": sha}


def build_pipeline(p: beam.Pipeline, cfg: CrawlConfig, seeds: list[str], scope_domains: list[str],
                   out_dir: str, seed_rejected: list[dict]):
    cfg_dict = dataclasses.asdict(cfg)
    frontier_pc = p | "Seeds" >> beam.Create([(u, 0) for u in seeds])
    state_pc = p | "NoState" >> beam.Create([])
    seen_pcs = []
    spent_pcs = [p | "Spent0" >> beam.Create([0])]
    pages, counts, rejected = [], [], [p | "SeedRejects" >> beam.Create(seed_rejected)]
    for r in range(cfg.max_depth + 1):
        keyed = frontier_pc | f"R{r}KeyByHost" >> beam.Map(lambda ud: (frontier.host_key(ud[0]), ud))
        grouped = {"urls": keyed, "state": state_pc} | f"R{r}GroupByHost" >> beam.CoGroupByKey()
        spent = (spent_pcs | f"R{r}FlattenSpent" >> beam.Flatten()
                 | f"R{r}SumSpent" >> beam.CombineGlobally(sum))
        wants = (grouped | f"R{r}Wants" >> beam.Map(
            lambda kv, per_host: (kv[0], min(len(list(kv[1]["urls"])), max(0, per_host - sum(
                s["spent"] for s in kv[1]["state"])))), cfg.max_pages_per_host)
                 | f"R{r}WantsDict" >> beam.combiners.ToDict())
        alloc = wants | f"R{r}Allocate" >> beam.Map(
            lambda w, s, total: frontier.allocate(w, total - s), beam.pvalue.AsSingleton(spent), cfg.max_pages)
        res = grouped | f"R{r}Fetch" >> beam.ParDo(
            FetchHostsFn(cfg_dict, scope_domains, r), beam.pvalue.AsSingleton(alloc)).with_outputs(*FetchHostsFn.TAGS)
        pages.append(res.pages)
        counts.append(res.counts)
        rejected.append(res.rejected)
        spent_pcs.append(res.spent)
        state_pc = res.state
        if r == cfg.max_depth:
            break
        seen_pcs += [res.seen, frontier_pc | f"R{r}SeenFrontier" >> beam.Map(lambda ud: ud[0])]
        seen_all = (seen_pcs | f"R{r}FlattenSeen" >> beam.Flatten()
                    | f"R{r}KeySeen" >> beam.Map(lambda u: (u, None)))
        dd = ({"new": res.links, "seen": seen_all} | f"R{r}GroupByURL" >> beam.CoGroupByKey()
              | f"R{r}Dedup" >> beam.FlatMap(dedup_links).with_outputs("frontier", "counts"))
        counts.append(dd.counts)
        frontier_pc = dd.frontier
    info = {"software": "gristmill crawl", "format": "WARC File Format 1.1",
            "http-header-user-agent": cfg.user_agent, "robots": "obey",
            "description": f"max_depth={cfg.max_depth} max_pages={cfg.max_pages} delay={cfg.delay}"}
    warcs = (pages | "FlattenPages" >> beam.Flatten() | "GroupByShard" >> beam.GroupByKey()
             | "WriteWARC" >> beam.Map(write_warc_shard, out_dir, cfg.warc_shards, info))
    rej = (rejected | "FlattenRejected" >> beam.Flatten()
           | "KeyRejected" >> beam.Map(lambda row: (shard_of(row["host"], cfg.warc_shards), row))
           | "GroupRejected" >> beam.GroupByKey()
           | "WriteRejected" >> beam.Map(write_rejected_shard, out_dir, cfg.warc_shards))
    total = counts | "FlattenCounts" >> beam.Flatten() | "MergeCounts" >> beam.CombineGlobally(MergeCounts())
    outputs = ((warcs, rej) | "FlattenOutputs" >> beam.Flatten()
               | "ListOutputs" >> beam.combiners.ToList())
    _ = (total | "WriteResult" >> beam.Map(
        lambda c, outs: write_json_atomic(join(out_dir, "_crawl_result.json"), {"counts": c, "outputs": outs}),
        beam.pvalue.AsSingleton(outputs)))


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gristmill crawl", description="Polite, safe crawl from seed URLs to WARC files.")
    ap.add_argument("--seeds", required=True, help="text file, one URL per line (# comments allowed)")
    ap.add_argument("--output", required=True, help="output folder: warc/, rejected/, report.json, manifest.json")
    ap.add_argument("--config", help="YAML file with any CrawlConfig option; flags override it")
    ap.add_argument("--max-depth", type=int)
    ap.add_argument("--max-pages", type=int)
    ap.add_argument("--max-pages-per-host", type=int)
    ap.add_argument("--allowed-domain", action="append", dest="allowed_domains",
                    help="repeatable; default: the seeds' hosts; '*' for anywhere")
    ap.add_argument("--user-agent")
    ap.add_argument("--delay", type=float, help="seconds between requests to one host (default 1)")
    ap.add_argument("--request-seconds", type=float, help="wall-clock cap per request (default 30)")
    ap.add_argument("--max-body-bytes", type=int)
    ap.add_argument("--threads", type=int, help="hosts fetched at once per worker (default 16)")
    ap.add_argument("--warc-shards", type=int)
    ap.add_argument("--allow-loopback", action="store_true", default=None,
                    help="allow 127.0.0.0/8 and ::1 (tests, local demos)")
    ap.add_argument("--allow-private", action="store_true", default=None,
                    help="allow loopback and private ranges; link-local and cloud metadata stay refused")
    return ap


def make_config(args: argparse.Namespace) -> CrawlConfig:
    values = CrawlConfig.from_yaml(args.config) if args.config else {}
    for f in dataclasses.fields(CrawlConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    return CrawlConfig(**values)


def run(argv: list[str] | None = None) -> dict:
    """Run the crawl; return the report dict (also written to <output>/report.json)."""
    args, options = parse(_parser(), argv)
    cfg = make_config(args)
    out_dir = args.output
    done = read_done(join(out_dir, "report.json"))
    if done is not None:
        with open(join(out_dir, "report.json"), encoding="utf-8") as f:
            return json.load(f)
    with open(args.seeds, encoding="utf-8") as f:
        lines = f.read().splitlines()
    seeds, seed_drops, seed_rej = frontier.read_seeds(lines)
    if not seeds:
        raise SystemExit(f"--seeds {args.seeds}: no valid http(s) URL in it ({sum(seed_drops.values())} refused)")
    seed_counts = StageCounts()
    seed_counts.enter("seeds", len(seeds) + sum(seed_drops.values()))
    seed_counts.out("seeds", len(seeds))
    for reason, n in seed_drops.items():
        seed_counts.drop("seeds", reason, n)
    domains = cfg.allowed_domains or sorted({frontier.host_key(s).rsplit(":", 1)[0].strip("[]") for s in seeds})
    seed_rows = [_row(u, "", "seeds", reason, detail) for u, reason, detail in seed_rej]
    makedirs(out_dir)
    start = time.time()
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, cfg, seeds, domains, out_dir, seed_rows)
    with open(join(out_dir, "_crawl_result.json"), encoding="utf-8") as f:
        result = json.load(f)
    counts = StageCounts().merge(seed_counts).merge(result["counts"])
    order = ["seeds", "robots", "budget", "fetch", "links", "seen"]
    counts.stages = {k: counts.stages[k] for k in order if k in counts.stages}
    outputs = sorted(result["outputs"], key=lambda o: o["path"])
    report = build_report("crawl", {**dataclasses.asdict(cfg), "scope_domains": domains}, [args.seeds], counts,
                          outputs, time.time() - start,
                          pages=sum(o.get("pages", 0) for o in outputs))
    os.remove(join(out_dir, "_crawl_result.json"))
    write_report(out_dir, report)
    mark_done(join(out_dir, "report.json"), report["pages"], sha256_of(join(out_dir, "report.json")))
    return report


def main(argv: list[str] | None = None) -> int:
    try:
        report = run(argv)
    except ValueError as e:
        print(f"gristmill crawl: {e}")
        return 2
    print(summary_table(report))
    print(f"pages: {report['pages']}  warc files: {sum(1 for o in report['outputs'] if o['path'].endswith('.warc.gz'))}"
          f"  seconds: {report['seconds']}")
    return 0
