"""Benchmark of `gristmill dedup` side by side with datasketch and datatrove, in one run.

  flock /tmp/gristmill-bench.lock python benchmarks/dedup.py [--pr_docs 20000] [--speed_docs 2000]
        [--memory 10000,100000] [--cluster_memory 10000,100000,1000000] [--json out.json]

1. Signatures/s per core at 128 permutations on the same documents: gristmill's vectorized MinHasher,
   datasketch one update() per shingle, datasketch MinHash.bulk, datatrove's MinhashDedupSignature
   (16 buckets x 8 hashes, its own shingling and xxhash; run in its own venv via benchmarks/peers.py).
   gristmill's signatures are checked equal to datasketch's, element for element.
2. Precision/recall of near-duplicate pairs vs exact Jaccard >= threshold on --pr_docs documents: raw
   LSH candidates, with estimated-Jaccard verification, and the pairs the job's own algorithm puts in
   one component (sub-bucket stars + component labels, run locally with the job's functions).
3. Peak memory: the Beam job on DirectRunner multi_processing with 2 workers (largest SDK worker, and
   the runner process that holds the shuffled data on DirectRunner) at each --memory size, and
   datatrove's MinhashDedupCluster (one task, union-find over all duplicate pairs) on synthetic
   duplicate pairs at each --cluster_memory size.

Documents: paragraphs of ../shared/data/reference with planted near-duplicates (dedup/planted.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

# `python benchmarks/dedup.py` puts benchmarks/ first on sys.path, where benchmarks/tokenize.py would
# shadow the standard library's tokenize (imported by numpy via inspect): import from the root instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.peers import machine, python_for  # noqa: E402
from dedup.components import local_components  # noqa: E402
from dedup.lsh import band_keys, bucket_edges, choose_bands, salt  # noqa: E402
from dedup.minhash import MinHashConfig, MinHasher, shingles  # noqa: E402
from dedup.planted import exact_pairs, lsh_pairs, planted_corpus, precision_recall, reference_paragraphs  # noqa: E402

DATATROVE = ["datatrove[processing]==0.10.1", "spacy"]  # spacy: datatrove's English word tokenizer

DATATROVE_SIGNATURES = r"""
import json, sys, time, tempfile
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
texts = [json.loads(l)["text"] for l in open(sys.argv[1])]
docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
step = MinhashDedupSignature(tempfile.mkdtemp(), config=MinhashConfig(num_buckets=16, hashes_per_bucket=8))
step.run(iter(docs[:20]), rank=1, world_size=2)  # warm-up: tokenizer and parameters
t = time.perf_counter()
step.run(iter(docs), rank=0, world_size=2)
print(json.dumps({"docs": len(docs), "seconds": time.perf_counter() - t}))
"""

DATATROVE_CLUSTER = r"""
import json, os, struct, sys, tempfile, time
import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupCluster
n = int(sys.argv[1])
rng = np.random.default_rng(0)
src = tempfile.mkdtemp()
# ~30% of documents duplicate an earlier one (as in the planted corpora), each pair found in 3 of 14 buckets.
dups = np.flatnonzero(rng.random(n) < 0.3)
dups = dups[dups > 0]
origin = (rng.random(len(dups)) * dups).astype(np.int64)
files = [open(os.path.join(src, f"{b:05d}.dups"), "wb") for b in range(14)]
for k, (a, b) in enumerate(zip(origin.tolist(), dups.tolist())):
    rec = struct.pack("<4I", 0, a, 0, b)
    for j in range(3):
        files[(k + j * 5) % 14].write(rec)
for f in files:
    f.close()
n_pairs = len(dups)
del dups, origin

def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status_kb("VmRSS")
t = time.perf_counter()
MinhashDedupCluster(src, tempfile.mkdtemp(), config=MinhashConfig()).run(world_size=1)
peak = status_kb("VmHWM")
print(json.dumps({"docs": n, "pairs": n_pairs, "seconds": time.perf_counter() - t,
                  "peak_rss_mb": peak / 1024, "rss_before_mb": base / 1024, "cluster_added_mb": (peak - base) / 1024}))
"""


def reference_root() -> Path:
    for cand in (ROOT.parent / "shared" / "data" / "reference", Path("/work/shared/data/reference")):
        if cand.exists():
            return cand
    raise SystemExit("reference text not found: expected ../shared/data/reference next to the repository")


def best_of(fn, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# ---------------------------------------------------------------- 1. signature speed

def speed(docs: list[dict], one_by_one_docs: int) -> dict:
    from datasketch import MinHash

    texts = [d["text"] for d in docs]
    t = time.perf_counter()
    lists = [shingles(x, 5) for x in texts]
    shingle_s = time.perf_counter() - t
    hasher = MinHasher(MinHashConfig(5, 128, 1))
    ours = hasher.signatures(lists)
    bulk = MinHash.bulk(lists, num_perm=128, seed=1)
    equal_bulk = bool(np.array_equal(ours, np.stack([m.hashvalues for m in bulk])))
    sub = lists[:one_by_one_docs]

    def one_by_one():
        out = []
        for sl in sub:
            m = MinHash(num_perm=128, seed=1)
            for s in sl:
                m.update(s)
            out.append(m.hashvalues)
        return out

    equal_one = bool(np.array_equal(ours[:len(sub)], np.stack(one_by_one())))
    # Alternate the contenders so that load from other processes hits both alike; keep each one's best.
    t_ours = t_bulk = float("inf")
    for _ in range(3):
        t_ours = min(t_ours, best_of(lambda: hasher.signatures(lists), 1))
        t_bulk = min(t_bulk, best_of(lambda: MinHash.bulk(lists, num_perm=128, seed=1), 1))
    t_one = best_of(one_by_one, 1)
    n = len(lists)
    shingles_per_doc = sum(map(len, lists)) / n
    result = {
        "docs": n, "mean_words": round(sum(len(x.split()) for x in texts) / n, 1),
        "mean_shingles": round(shingles_per_doc, 1),
        "shingling_docs_per_s": n / shingle_s,
        "gristmill_docs_per_s": n / t_ours,
        "gristmill_with_shingling_docs_per_s": n / (t_ours + shingle_s),
        "datasketch_bulk_docs_per_s": n / t_bulk,
        "datasketch_bulk_with_shingling_docs_per_s": n / (t_bulk + shingle_s),
        "datasketch_one_by_one_docs_per_s": len(sub) / t_one,
        "one_by_one_docs": len(sub),
        "signatures_equal_datasketch_bulk": equal_bulk,
        "signatures_equal_datasketch_update": equal_one,
    }
    result["ratio_vs_bulk"] = result["gristmill_docs_per_s"] / result["datasketch_bulk_docs_per_s"]
    result["ratio_vs_bulk_with_shingling"] = (result["gristmill_with_shingling_docs_per_s"]
                                              / result["datasketch_bulk_with_shingling_docs_per_s"])
    result["ratio_vs_one_by_one"] = result["gristmill_docs_per_s"] / result["datasketch_one_by_one_docs_per_s"]
    return result


def datatrove_speed(docs: list[dict]) -> dict:
    py = python_for("datatrove-dedup", DATATROVE)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.jsonl"
        path.write_text("".join(json.dumps({"text": d["text"]}) + "\n" for d in docs))
        out = subprocess.run([py, "-c", DATATROVE_SIGNATURES, str(path)], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"docs": r["docs"], "docs_per_s": r["docs"] / r["seconds"]}


# ---------------------------------------------------------------- 2. precision / recall

def job_components(sigs: np.ndarray, threshold: float, bands: int, rows: int, fanout: int = 16,
                   max_centers: int = 16, margin: float = 0.0, sets: list | None = None) -> dict:
    """The job's candidate -> edges -> components path (pipelines/dedup.py) run locally on indices.

    With ``margin``, pairs estimated within it of the threshold are decided by exact Jaccard of ``sets``.
    """
    sub: dict = {}
    sketches = sigs.astype("<u2")  # what the job's band records carry
    for i, sig in enumerate(sigs):
        s = salt(i, fanout)
        for key in band_keys(sig, bands, rows):
            sub.setdefault((key, s), []).append((i, sketches[i]))
    edges, ambiguous, centers_by_key = [], set(), {}
    for (key, _), members in sub.items():
        e, centers, _, amb = bucket_edges(members, threshold, max_centers, margin)
        edges += e
        ambiguous.update(amb)
        centers_by_key.setdefault(key, []).extend(centers)
    for members in centers_by_key.values():
        e, _, _, amb = bucket_edges(members, threshold, max_centers * fanout, margin)
        edges += e
        ambiguous.update(amb)
    for i, j in ambiguous:
        if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= threshold:
            edges.append((i, j))
    return local_components(edges)


def cluster_pairs(labels: dict) -> set:
    groups: dict = {}
    for node, lab in labels.items():
        groups.setdefault(lab, []).append(node)
    return {(a, b) for g in groups.values() for i, a in enumerate(sorted(g)) for b in sorted(g)[i + 1:]}


def precision_recall_table(docs: list[dict], threshold: float) -> dict:
    t = time.perf_counter()
    lists = [shingles(d["text"], 5) for d in docs]
    sets = [set(x) for x in lists]
    truth = exact_pairs(lists, threshold)
    truth_clusters = cluster_pairs(local_components(truth))
    out = {"docs": len(docs), "threshold": threshold, "true_pairs": len(truth),
           "true_cluster_pairs": len(truth_clusters), "truth_seconds": time.perf_counter() - t, "rows": []}
    for num_perm, weights, label in [(128, (0.5, 0.5), "datasketch default bands"),
                                     (256, (0.1, 0.9), "gristmill default")]:
        sigs = MinHasher(MinHashConfig(5, num_perm, 1)).signatures(lists)
        b, r = choose_bands(threshold, num_perm, *weights)
        cand = lsh_pairs(sigs, b, r, None)
        verified = {(i, j) for i, j in cand if np.count_nonzero(sigs[i] == sigs[j]) / num_perm >= threshold}
        found = cluster_pairs(job_components(sigs, threshold, b, r))
        margin = 3.0 * (threshold * (1 - threshold) / num_perm) ** 0.5
        sure = {(i, j) for i, j in cand if np.count_nonzero(sigs[i] == sigs[j]) / num_perm >= threshold + margin}
        exact = sure | {(i, j) for i, j in cand if abs(np.count_nonzero(sigs[i] == sigs[j]) / num_perm - threshold)
                        < margin and len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= threshold}
        found_exact = cluster_pairs(job_components(sigs, threshold, b, r, margin=margin, sets=sets))
        row = {"config": label, "num_perm": num_perm, "bands": b, "rows": r,
               "ambiguous_share": round(sum(abs(np.count_nonzero(sigs[i] == sigs[j]) / num_perm - threshold)
                                            < margin for i, j in cand) / max(1, len(cand)), 4)}
        for name, pairs, ref in [("raw", cand, truth), ("verified", verified, truth),
                                 ("verified_exact_near_threshold", exact, truth),
                                 ("job_components", found, truth_clusters),
                                 ("job_components_exact", found_exact, truth_clusters)]:
            p, rc = precision_recall(pairs, ref)
            row[name] = {"pairs": len(pairs), "precision": round(p, 4), "recall": round(rc, 4)}
        out["rows"].append(row)
    return out


# ---------------------------------------------------------------- 3. memory

MEMORY_RUN = r"""
import json, os, sys, threading, time
from pipelines import dedup

# Linux keeps a parent's peak RSS in a forked child's rusage, so ru_maxrss of children is useless here:
# sample each descendant's own VmHWM (peak RSS of its current program) from /proc instead.
peaks, done = {}, threading.Event()

def descendants(root):
    children = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out

def hwm_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def sample():
    while not done.is_set():
        for pid in descendants(os.getpid()):
            peaks[pid] = max(peaks.get(pid, 0), hwm_kb(pid))
        done.wait(0.2)

threading.Thread(target=sample, daemon=True).start()
t = time.time()
report = dedup.run(["--input", sys.argv[1], "--output", sys.argv[2],
                    "--direct_running_mode=multi_processing", "--direct_num_workers=2"])
done.set()
print(json.dumps({"seconds": time.time() - t,
                  "runner_peak_rss_mb": hwm_kb(os.getpid()) / 1024,
                  "largest_worker_peak_rss_mb": max(peaks.values(), default=0) / 1024,
                  "worker_processes_seen": len(peaks),
                  "lsh": report["lsh"], "stage": report["stages"]["dedup"]}))
"""


def job_memory(paragraphs: list[str], n: int) -> dict:
    import pyarrow.parquet as pq

    from pipelines.io.parquet import doc_schema, to_table

    docs = planted_corpus(paragraphs, n, seed=n, hot_copies=min(5000, n // 20))
    schema = doc_schema({"quality_score": "float"})
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        parts = max(2, n // 5000)
        step = -(-n // parts)
        for k in range(parts):
            pq.write_table(to_table(docs[k * step:(k + 1) * step], schema), src / f"part-{k:04d}.parquet")
        del docs
        out = subprocess.run([sys.executable, "-c", MEMORY_RUN, str(src / "*.parquet"), str(Path(tmp) / "out")],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["docs"] = n
    return r


def worker_units(n: int, num_perm: int = 256, bands: int = 23, rows: int = 11, fanout: int = 16,
                 hot: int = 5000, chunk: int = 50_000) -> dict:
    """Largest unit of work of each Beam step at ``n`` synthetic documents, and its measured memory.

    On a distributed runner a worker holds one element's group at a time, so these units, not the
    corpus, bound a worker's memory. Signatures are synthetic (random, 30% near-copies of an earlier
    document with 10% of values changed, ``hot`` identical copies of one document); group sizes are
    counted for every band with 64-bit band keys; the largest sub-bucket and bucket are then run
    through the job's own bucket_edges and the label CombineFn under tracemalloc.
    """
    import tracemalloc

    from dedup.components import _MinLabel

    rng = np.random.default_rng(n)
    mix = rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    sub_keys, bucket_keys = [], []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        sig = rng.integers(0, 2**32, size=(m, num_perm), dtype=np.uint64).astype(np.uint32)
        copies = np.flatnonzero(rng.random(m) < 0.3)
        copies = copies[copies > 0]
        origin = (rng.random(len(copies)) * copies).astype(np.int64)
        changed = rng.random((len(copies), num_perm)) < 0.1
        sig[copies] = np.where(changed, sig[copies] ^ np.uint32(1), sig[origin])
        if start == 0:
            sig[1:min(hot, m)] = sig[0]
        salts = (np.arange(start, start + m, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(60)
        for b in range(bands):
            band = sig[:, b * rows:(b + 1) * rows].astype(np.uint64)
            with np.errstate(over="ignore"):
                key = (band * mix).sum(axis=1, dtype=np.uint64) + np.uint64(b) * np.uint64(0x100000001B3)
                bucket_keys.append(key)
                sub_keys.append(key * np.uint64(31) + salts % np.uint64(fanout))
    sub_sizes = np.unique(np.concatenate(sub_keys), return_counts=True)[1]
    keys = np.concatenate(bucket_keys)
    pairs = np.unique(np.stack([keys, np.concatenate(sub_keys)]), axis=1)  # (bucket, sub-bucket) present
    centers = np.unique(pairs[0], return_counts=True)[1]
    biggest_sub, biggest_bucket = int(sub_sizes.max()), int(centers.max())
    sub_sig = rng.integers(0, 2**16, size=num_perm, dtype=np.uint64).astype(np.uint16)

    def traced(fn):
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20

    def group(k):  # k band records as a worker receives them: (node, 16-bit signature)
        return [((0, 0.0, f"{i:040x}", 0, i), sub_sig.copy()) for i in range(k)]

    # The group is built inside the trace: holding it is the unit's memory.
    sub_mb = traced(lambda: bucket_edges(group(biggest_sub), 0.8, 16))
    bucket_mb = traced(lambda: bucket_edges(group(biggest_bucket * 16), 0.8, 16 * fanout))
    degree = biggest_sub + biggest_bucket  # a center: its members plus the other centers of its bucket

    def combine():
        nodes = [node for node, _ in group(degree)]
        fn = _MinLabel()
        acc = fn.add_input(fn.create_accumulator(), ("self", nodes[0], tuple(nodes)))
        for node in nodes:
            acc = fn.add_input(acc, ("nbr", node))
        fn.extract_output(acc)

    return {"docs": n, "largest_subbucket": biggest_sub, "largest_bucket_centers": biggest_bucket,
            "band_records": int(sum(map(len, sub_keys))), "subbucket_unit_mb": round(sub_mb, 3),
            "bucket_unit_mb": round(bucket_mb, 3), "max_degree_bound": degree,
            "label_unit_mb": round(traced(combine), 3), "signature_batch_mb": round(1000 * num_perm * 4 / 2**20, 3)}


def datatrove_cluster_memory(n: int) -> dict:
    py = python_for("datatrove-dedup", DATATROVE)
    out = subprocess.run([py, "-c", DATATROVE_CLUSTER, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pr_docs", type=int, default=20000)
    ap.add_argument("--speed_docs", type=int, default=2000)
    ap.add_argument("--one_by_one_docs", type=int, default=300)
    ap.add_argument("--memory", default="2000,10000",
                    help="document counts for the Beam job runs on DirectRunner (its runner holds all data: "
                         "100000 needed >15 GB here and was killed)")
    ap.add_argument("--units", default="10000,100000,1000000", help="document counts for the unit-of-work sizes")
    ap.add_argument("--cluster_memory", default="10000,100000,1000000", help="document counts for datatrove's cluster step")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: speed,datatrove,pr,memory,units,cluster")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {"machine": machine(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
                     "load_avg_start": os.getloadavg()}
    paragraphs = reference_paragraphs(reference_root())
    docs = planted_corpus(paragraphs, max(args.pr_docs, args.speed_docs), seed=2026)
    if "speed" not in skip:
        results["speed"] = speed(docs[:args.speed_docs], args.one_by_one_docs)
        print(json.dumps(results["speed"], indent=1), flush=True)
    if "datatrove" not in skip:
        results["datatrove_signature"] = datatrove_speed(docs[:args.speed_docs])
        print(json.dumps(results["datatrove_signature"]), flush=True)
    if "pr" not in skip:
        results["precision_recall"] = precision_recall_table(docs[:args.pr_docs], 0.8)
        print(json.dumps(results["precision_recall"], indent=1), flush=True)
    del docs
    if "memory" not in skip:
        results["job_memory"] = []
        for n in [int(x) for x in args.memory.split(",") if x]:
            results["job_memory"].append(job_memory(paragraphs, n))
            print(json.dumps(results["job_memory"][-1]), flush=True)
    if "units" not in skip:
        results["worker_units"] = []
        for n in [int(x) for x in args.units.split(",") if x]:
            results["worker_units"].append(worker_units(n))
            print(json.dumps(results["worker_units"][-1]), flush=True)
    if "cluster" not in skip:
        results["datatrove_cluster_memory"] = []
        for n in [int(x) for x in args.cluster_memory.split(",") if x]:
            results["datatrove_cluster_memory"].append(datatrove_cluster_memory(n))
            print(json.dumps(results["datatrove_cluster_memory"][-1]), flush=True)
    results["load_avg_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
