"""Read WARC (and legacy ARC) files into document records, counting every record that goes wrong.

fastwarc does the WARC framing (2-4x faster than warcio here). The HTTP header block is parsed here
rather than by fastwarc because fastwarc misreads LF-only headers (ClueWeb09 captures: measured on
shared/data/warc/valid/clueweb09-quirk.warc.gz), and that parsing is a few lines. ARC files, which
fastwarc does not read, go through warcio. Every problem becomes a counted reason in stage ``read``:
the caller never sees an exception for bad input.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from typing import Iterator
from urllib.parse import urlsplit

from apache_beam.io.filesystems import FileSystems

from pipelines.stages import StageCounts, rejected_row

STAGE = "read"
REASONS = {
    "read.not_warc": "the file is not a WARC/ARC file (or is empty)",
    "read.truncated": "the file ends inside a record or a gzip member; records before it were kept",
    "read.bad_record": "a record whose HTTP block cannot be parsed",
    "read.too_large": "record or decompressed body over the size cap (config max_record_bytes)",
    "read.bad_encoding": "Content-Encoding (gzip/deflate/br) or chunked body that does not decode",
    "read.http_status": "HTTP status other than 200 (redirects, errors)",
    "read.empty": "a record with an empty payload",
}
DOC_TYPES = ("response", "resource", "conversion")
DEFAULT_MAX_RECORD_BYTES = 10 * 1024 * 1024


def doc_id(url: str, digest: str) -> str:
    """Stable document id: sha1 of the URL and the record's payload digest (DESIGN.md)."""
    return hashlib.sha1(f"{url}\n{digest}".encode("utf-8", "surrogatepass")).hexdigest()


def clean_url(uri: str | None) -> str:
    uri = (uri or "").strip()
    if uri.startswith("<") and uri.endswith(">"):  # wget writes WARC-Target-URI as <...>
        uri = uri[1:-1]
    return uri


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def split_http(block: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) from an HTTP response block; CRLF or bare LF."""
    crlf, lf = block.find(b"\r\n\r\n"), block.find(b"\n\n")
    if crlf == -1 and lf == -1:
        raise ValueError("no end of HTTP headers")
    if crlf != -1 and (lf == -1 or crlf < lf):
        head, body = block[:crlf], block[crlf + 4:]
    else:
        head, body = block[:lf], block[lf + 2:]
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0].split()
    if len(status_line) < 2 or not status_line[0].upper().startswith("HTTP/") or not status_line[1].isdigit():
        raise ValueError(f"bad status line {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip().lower()] = value.strip()
    return int(status_line[1]), headers, body


def dechunk(body: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = body.find(b"\r\n", pos)
        if end == -1:
            raise ValueError("chunk size line not terminated")
        size = int(body[pos:end].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return bytes(out)
        start = end + 2
        if start + size > len(body):
            raise ValueError("chunk longer than the body")
        out += body[start:start + size]
        pos = start + size + 2


def decode_content(body: bytes, encoding: str, cap: int) -> bytes:
    """Undo Content-Encoding with a cap on decompressed bytes (a gzip bomb stops at ``cap``)."""
    encoding = encoding.lower().strip()
    if encoding in ("", "identity", "none"):
        return body
    if encoding in ("gzip", "x-gzip") and body[:2] != b"\x1f\x8b":
        return body  # archives often store the body already decoded but keep the header (ClueWeb09 does)
    if encoding == "deflate" and body.lstrip()[:1] == b"<":
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 47 if encoding != "deflate" else (15 if body[:1] == b"\x78" else -15)
        d = zlib.decompressobj(wbits)
        out = d.decompress(body, cap + 1)
        if len(out) > cap:
            raise OverflowError("decompressed body over the cap")
        return out
    if encoding == "br":
        import brotli

        if body.lstrip()[:1] == b"<":
            return body

        d = brotli.Decompressor()
        out = d.process(body, output_buffer_limit=cap + 1) if _brotli_has_limit() else d.process(body)
        if len(out) > cap:
            raise OverflowError("decompressed body over the cap")
        return out
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


def _brotli_has_limit() -> bool:
    import brotli
    import inspect

    try:
        return "output_buffer_limit" in inspect.signature(brotli.Decompressor.process).parameters
    except (TypeError, ValueError):
        return False


def _sniff(path: str) -> str:
    """'warc', 'arc' or 'unknown', from the first bytes (after gunzip when gzip'd)."""
    with FileSystems.open(path, compression_type="uncompressed") as f:
        head = f.read(4096)
    if head[:2] == b"\x1f\x8b":
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(head)).read(64)
        except (OSError, EOFError, zlib.error):
            head = head[:0] if len(head) < 4096 else _gunzip_prefix(head)
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"filedesc://"):
        return "arc"
    return "unknown"


def _gunzip_prefix(data: bytes) -> bytes:
    d = zlib.decompressobj(47)
    try:
        return d.decompress(data, 64)
    except zlib.error:
        return b""


def _base_doc(path: str, offset: int, url: str, date: str, digest: str) -> dict:
    return {"id": doc_id(url, digest), "url": url, "host": host_of(url), "warc_path": path,
            "warc_offset": offset, "fetch_time": date}


def _payload(kind: str, block: bytes, warc_ctype: str | None, cap: int):
    """-> (status, content_type, body, prextracted_text) or raises ValueError/OverflowError."""
    if kind == "conversion":  # WET: text already extracted by the producer
        return 200, warc_ctype, None, block.decode("utf-8", "replace")
    if kind == "resource" or not (block[:5].upper() == b"HTTP/"):
        return 200, warc_ctype, block, None
    status, headers, body = split_http(block)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        try:
            body = dechunk(body)
        except ValueError:
            pass  # many archives store bodies already de-chunked while keeping the header
    body = decode_content(body, headers.get("content-encoding", ""), cap)
    return status, headers.get("content-type"), body, None


def read_warc(path: str, counts: StageCounts, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
              ok_status: tuple[int, ...] = (200,)) -> Iterator[tuple[dict | None, dict | None]]:
    """Yield (doc, None) per usable document record, (None, rejected_row) per bad one.

    Docs carry the base columns plus transient ``_body`` (bytes), ``_content_type``, ``_status`` and, for
    WET conversion records, ``_text``. Counts go to stage ``read``; non-document records (request,
    metadata, warcinfo, revisit) are not documents and are not counted.
    """
    kind = _sniff(path)
    if kind == "unknown":
        counts.enter(STAGE)
        counts.fail(STAGE, "read.not_warc")
        yield None, rejected_row(_base_doc(path, 0, "", "", path), STAGE, "read.not_warc")
        return
    records = _iter_arc(path, max_record_bytes) if kind == "arc" else _iter_warc(path, max_record_bytes)
    for item in records:
        if isinstance(item, tuple):  # (offset, reason, detail): a broken record or file tail
            offset, reason, detail = item
            counts.enter(STAGE)
            counts.fail(STAGE, reason)
            yield None, rejected_row(_base_doc(path, offset, "", "", f"{path}@{offset}"), STAGE, reason, detail)
            continue
        offset, rtype, url, date, digest, block, warc_ctype, oversize = (
            item["offset"], item["type"], item["url"], item["date"], item["digest"], item["block"],
            item["ctype"], item["oversize"])
        counts.enter(STAGE)
        doc = _base_doc(path, offset, url, date, digest or hashlib.sha1(block).hexdigest())
        if oversize:
            counts.drop(STAGE, "read.too_large")
            yield None, rejected_row(doc, STAGE, "read.too_large", f"record over {max_record_bytes} bytes")
            continue
        try:
            status, ctype, body, text = _payload(rtype, block, warc_ctype, max_record_bytes)
        except OverflowError as e:
            counts.drop(STAGE, "read.too_large")
            yield None, rejected_row(doc, STAGE, "read.too_large", str(e))
            continue
        except (zlib.error, EOFError, OSError) as e:
            counts.fail(STAGE, "read.bad_encoding")
            yield None, rejected_row(doc, STAGE, "read.bad_encoding", f"{type(e).__name__}: {e}")
            continue
        except ValueError as e:
            reason = "read.bad_encoding" if "Content-Encoding" in str(e) else "read.bad_record"
            counts.fail(STAGE, reason)
            yield None, rejected_row(doc, STAGE, reason, str(e))
            continue
        except Exception as e:  # brotli raises its own error class (brotli.error); anything else is a bug
            if type(e).__module__ == "brotli" or type(e).__name__ == "error":
                counts.fail(STAGE, "read.bad_encoding")
                yield None, rejected_row(doc, STAGE, "read.bad_encoding", f"brotli: {e}")
                continue
            raise
        if status not in ok_status:
            counts.drop(STAGE, "read.http_status")
            yield None, rejected_row(doc, STAGE, "read.http_status", f"HTTP {status}")
            continue
        if not (body or text):
            counts.drop(STAGE, "read.empty")
            yield None, rejected_row(doc, STAGE, "read.empty")
            continue
        counts.out(STAGE)
        doc.update({"_body": body, "_content_type": ctype, "_status": status})
        if text is not None:
            doc["_text"] = text
        yield doc, None


# Bound at import: a generator closed during interpreter shutdown must not look up ``zlib`` then.
_FRAMING_ERRORS = (OSError, EOFError, zlib.error)


def _iter_warc(path: str, cap: int, _errors: tuple = _FRAMING_ERRORS):
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    wanted = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.conversion
    last = 0
    with FileSystems.open(path, compression_type="uncompressed") as raw:
        stream = raw if hasattr(raw, "seek") else io.BytesIO(raw.read())
        try:
            for rec in ArchiveIterator(stream, record_types=wanted, parse_http=False):
                last = rec.stream_pos
                block = rec.reader.read(cap + 1)
                if len(block) < min(rec.content_length, cap + 1):
                    # fastwarc ends a record quietly at a cut gzip member: the block is shorter than
                    # its Content-Length. Count it; nothing after it can be framed.
                    yield (rec.stream_pos, "read.truncated",
                           f"record has {len(block)} of {rec.content_length} bytes")
                    return
                h = rec.headers
                yield {"offset": rec.stream_pos, "type": str(rec.record_type).split(".")[-1],
                       "url": clean_url(h.get("WARC-Target-URI")), "date": h.get("WARC-Date") or "",
                       "digest": h.get("WARC-Payload-Digest") or h.get("WARC-Block-Digest") or "",
                       "block": block[:cap], "ctype": h.get("Content-Type"), "oversize": len(block) > cap}
        except _errors as e:
            # fastwarc raises OSError ("Invalid WARC header") where a record or gzip member is cut off.
            yield (last, "read.truncated", f"{type(e).__name__}: {e}")


def _iter_arc(path: str, cap: int):
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    last = 0
    with FileSystems.open(path, compression_type="uncompressed") as raw:
        it = ArchiveIterator(raw, arc2warc=True)
        try:
            for rec in it:
                if rec.rec_type not in DOC_TYPES:
                    continue
                # warcio has already split the HTTP headers off: rebuild the block so one code path
                # (_payload) handles status, chunking and Content-Encoding for ARC and WARC alike.
                block = rec.raw_stream.read(cap + 1)
                last = it.get_record_offset()  # only valid once the record has been read
                if rec.http_headers:
                    head = f"{rec.http_headers.protocol} {rec.http_headers.statusline}\r\n"
                    head += "".join(f"{k}: {v}\r\n" for k, v in rec.http_headers.headers)
                    block = head.encode("latin-1", "replace") + b"\r\n" + block
                h = rec.rec_headers
                yield {"offset": last, "type": rec.rec_type, "url": clean_url(h.get_header("WARC-Target-URI")),
                       "date": h.get_header("WARC-Date") or "", "digest": h.get_header("WARC-Payload-Digest") or "",
                       "block": block[:cap + 4096], "ctype": h.get_header("Content-Type"),
                       "oversize": len(block) > cap + 4096}
        except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error) as e:
            yield (last, "read.truncated", f"{type(e).__name__}: {e}")
