"""Beam jobs, kept thin: crawl, curate, dedup, tokenize, train, ablate; the CLI and the report."""
