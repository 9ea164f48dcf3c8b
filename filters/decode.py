"""HTTP payload bytes -> HTML text: skip what is not HTML, find the charset, never crash on lies.

Order of evidence for the charset: a byte-order mark, the HTTP Content-Type header, the page's
``<meta>`` declaration, then detection (charset_normalizer, installed with trafilatura) on the first
64 KB. A declared charset is used only if the bytes decode under it; any other charset declared for
bytes that are valid UTF-8 with non-ASCII characters loses to UTF-8, because a whole page of legacy
text is almost never valid UTF-8 by accident (mislabelled UTF-8 is common, the reverse very rare).
Non-text codecs ("base64", "rot13", "zlib") named by a page are ignored.
"""
from __future__ import annotations

import codecs
import re

from filters import options
from filters.verdict import StageFailure, Verdict, drop, keep
from pipelines.stages import Stage

DEFAULTS = {
    # Larger bodies are skipped unparsed (decode.too_large); trafilatura itself refuses 20 MB.
    "max_html_bytes": 5 * 1024 * 1024,
}
REASONS = {
    "decode.not_html": "Content-Type or the bytes say this is not HTML (image, PDF, JSON, plain text, ...)",
    "decode.too_large": "body larger than max_html_bytes",
    "decode.empty": "empty body",
    "decode.binary": "(failed) binary bytes (file signature or control characters) although labelled HTML",
}
COLUMNS = {
    "charset": "str",          # codec used to decode the page
    "charset_source": "str",   # bom | header | meta | utf-8 | detected | fallback
}

HTML_TYPES = ("text/html", "application/xhtml+xml", "application/html", "text/x-html")
# Types that servers use for HTML often enough that the bytes decide (an RSS feed has no <html> tag).
SNIFF_TYPES = ("", "text/plain", "application/octet-stream", "unknown/unknown", "application/unknown",
               "binary/octet-stream", "text/*", "*/*", "application/xml", "text/xml")
MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ",
         b"7z\xbc\xaf", b"Rar!", b"OggS", b"ID3", b"fLaC", b"wOFF", b"wOF2", b"\x00\x01\x00\x00\x00",
         b"\x7fELF", b"MZ", b"\x00\x00\x01\x00", b"RIFF", b"\x1aE\xdf\xa3", b"\xca\xfe\xba\xbe")
HTML_START = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|meta|title|div|p|a|table|script|style|link|br|h[1-6]|span|ul|"
    rb"section|article|header|nav|form|img|iframe|center|font|b|i)[\s>/]", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# WHATWG encoding standard: browsers decode these labels with a superset codec (latin-1 pages
# routinely contain cp1252 quotes, GB2312 pages GBK characters, Shift_JIS pages cp932 ones).
_WHATWG = {"iso8859-1": "cp1252", "ascii": "cp1252", "gb2312": "gb18030", "gbk": "gb18030",
           "shift_jis": "cp932", "euc_kr": "cp949", "iso8859-9": "cp1254", "tis-620": "cp874",
           "iso8859-11": "cp874"}
DETECT_BYTES = 64 * 1024


def codec_name(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None if unknown or not a text encoding."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'").lower())
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):  # base64_codec, rot_13, zlib_codec...
        return None
    return _WHATWG.get(info.name, info.name)


def header_charset(content_type: str | None) -> str | None:
    m = _HEADER_CHARSET.search(content_type or "")
    return m.group(1) if m else None


def meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body, 0, 4096)
    return m.group(1).decode("ascii") if m else None


def mime_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_binary(body: bytes, declared: str | None = None) -> bool:
    """A file signature, or control characters in the first 4 KB: more than 8 NULs or more than 5%
    C0 controls (random bytes have ~10%, text ~0). UTF-16/32 (BOM or declared) are excepted."""
    if body.startswith(MAGIC):
        return True
    if body.startswith(tuple(b for b, _ in _BOMS)) or (declared and declared.startswith(("utf-16", "utf-32"))):
        return False
    head = body[:4096]
    if head.count(b"\x00") > 8:
        return True
    # C0 controls other than \t \n \r \f and ESC (ISO-2022-JP uses ESC sequences).
    ctrl = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13, 27))
    return ctrl > 0.05 * len(head)


def looks_html(body: bytes) -> bool:
    return HTML_START.search(body, 0, 4096) is not None


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """(text, codec, source) for an HTML body; always returns (undecodable bytes become U+FFFD)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), codec, "bom"
    utf8 = _try(body, "utf-8")
    for source, label in (("header", header_charset(content_type)), ("meta", meta_charset(body))):
        codec = codec_name(label)
        if codec is None:
            continue
        if utf8 is not None and codec != "utf-8" and not body.isascii():
            return utf8, "utf-8", "utf-8"  # a legacy label on valid UTF-8 is a lie
        if codec.startswith(("utf-16", "utf-32")) and b"\x00" not in body[:64]:
            continue  # ASCII-compatible bytes cannot be UTF-16/32: the label lies
        text = utf8 if codec == "utf-8" else _try(body, codec)
        if text is not None:
            return text, codec, source
    if utf8 is not None:
        return utf8, "utf-8", "utf-8"
    from charset_normalizer import from_bytes  # imported on first use only (a legacy page)

    best = from_bytes(body[:DETECT_BYTES]).best()
    if best is not None:
        codec = codec_name(best.encoding)
        if codec:
            return body.decode(codec, errors="replace"), codec, "detected"
    return body.decode("utf-8", errors="replace"), "utf-8", "fallback"


def decode(doc: dict, max_bytes: int = DEFAULTS["max_html_bytes"]) -> Verdict:
    """The decode stage on one document: sets ``doc['_html']`` and releases ``doc['_body']``."""
    body = doc.get("_body") or b""
    ctype = doc.get("_content_type")
    doc["_body"] = None
    na = {"charset": None, "charset_source": None}
    if not body:
        return drop("decode.empty", **na)
    if len(body) > max_bytes:
        return drop("decode.too_large", **na)
    mime = mime_type(ctype)
    declared = codec_name(header_charset(ctype))
    if mime in HTML_TYPES:
        if looks_binary(body, declared):
            raise StageFailure("decode.binary", f"{mime} body starts {body[:8]!r}")
    elif mime in SNIFF_TYPES:
        if looks_binary(body, declared) or not looks_html(body):
            return drop("decode.not_html", **na)
    else:
        return drop("decode.not_html", **na)
    text, codec, source = decode_html(body, ctype)
    if "\x00" in text:  # lxml refuses NUL characters in strings
        text = text.replace("\x00", "")
    doc["_html"] = text
    return keep(charset=codec, charset_source=source)


def stage(config: dict | None = None) -> Stage:
    """Stage ``decode``; config: ``max_html_bytes`` (int, default 5 MiB)."""
    config = config or {}
    options.no_unknown(config, set(DEFAULTS), "decode")
    max_bytes = options.number(config, "max_html_bytes", DEFAULTS["max_html_bytes"], lo=1, integer=True)
    return Stage("decode", lambda doc: decode(doc, max_bytes), COLUMNS)
