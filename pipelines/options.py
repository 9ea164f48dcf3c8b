"""Splitting a command line into our flags and Beam's, and Beam pipeline options with sane defaults.

Each job parses its own flags with argparse and hands everything it does not know to Beam, so
``--runner``, ``--direct_num_workers``, ``--direct_running_mode`` and Dataflow/Spark/Flink flags pass
straight through (the pattern of Beam's own examples).
"""
from __future__ import annotations

import argparse
import glob as globlib

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, PipelineOptions]:
    args, beam_args = parser.parse_known_args(argv)
    unknown = [a for a in beam_args if a.startswith("--") and not _is_beam_flag(a)]
    if unknown:
        parser.error(f"unknown option(s) {unknown}: neither {parser.prog}'s nor Beam's")
    return args, PipelineOptions(beam_args, save_main_session=False)


def _is_beam_flag(arg: str) -> bool:
    name = arg[2:].split("=", 1)[0].replace("-", "_")
    return name in PipelineOptions([]).get_all_options(drop_default=False)


def expand_inputs(patterns: list[str]) -> list[str]:
    """Expand local globs and gs:// patterns into a sorted, de-duplicated file list (deterministic)."""
    paths: set[str] = set()
    for pat in patterns:
        if "://" in pat:
            for m in FileSystems.match([pat])[0].metadata_list:
                paths.add(m.path)
        else:
            hits = globlib.glob(pat, recursive=True)
            if not hits:
                raise SystemExit(f"--input: {pat!r} matches no file; pass a path or a glob such as 'crawl/*.warc.gz'")
            paths.update(h for h in hits if not h.endswith((".done.json",)))
    return sorted(paths)
