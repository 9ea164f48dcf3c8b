"""WARC read/write, atomic Parquet/Arrow writing with manifests, HTTP fetching with safety checks."""
