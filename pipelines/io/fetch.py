"""HTTP fetching for the crawler, with the safety checks done where they cannot be bypassed.

Built on urllib3 (well kept, connection pooling, timeouts) with three things it does not do by itself:

* **Address check on the connected socket.** ``SafeHTTPConnection._new_conn`` resolves the host
  itself, refuses every address that is not allowed (private, loopback, link-local, multicast,
  reserved, unspecified; IPv4-mapped IPv6 such as ``::ffff:127.0.0.1`` is judged by the address it
  embeds and is never allowed to reach a non-global one) and connects to the checked IP literal. The
  check and the connection use the same answer, so DNS rebinding between "check" and "connect" has no
  window. TLS still verifies the certificate against the host name (urllib3 uses ``self.host`` for SNI).
* **Caps while reading**: raw body bytes, decoded (gzip/deflate/brotli) bytes, header bytes and
  seconds per request. A decompression bomb or an endless body is cut at the cap and the connection
  is dropped, never read to the end.
* **No redirect following here.** The caller gets the 3xx and decides (the crawler follows same-host
  hops one at a time and queues other hosts in the frontier, so every hop passes these checks again).

No cookie jar exists: nothing a server sets is ever sent back, to it or to any other host.
"""
from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import brotli
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, NameResolutionError, NewConnectionError,
                                ProtocolError, ReadTimeoutError, SSLError)

# Cloud metadata services reachable from inside VMs; listed so they stay refused even where a private
# range is allowed (fd00:ec2::254 is AWS's IPv6 endpoint, inside the ULA range --allow-private opens).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))

CHUNK = 64 * 1024


@dataclass
class FetchConfig:
    user_agent: str = "gristmill-crawler/0.1 (+https://github.com/gristmill/gristmill)"
    connect_timeout: float = 5.0       # seconds to open the TCP (and TLS) connection
    read_timeout: float = 10.0         # seconds any single socket read may wait
    request_seconds: float = 30.0      # wall-clock cap for one request, headers to last body byte
    max_body_bytes: int = 10 << 20     # bytes on the wire (after de-chunking, before decompression)
    max_decoded_bytes: int = 20 << 20  # bytes after gzip/deflate/brotli decoding
    max_header_bytes: int = 64 << 10   # total size of the response header names and values
    allow_loopback: bool = False       # 127.0.0.0/8 and ::1 (tests, local demos)
    allow_private: bool = False        # loopback plus RFC 1918, CGNAT, unique-local (intranet crawls)
    # host name -> IP literal, consulted before DNS (benchmarks with many virtual hosts on loopback).
    resolve: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "request_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name!r} must be > 0 seconds (got {getattr(self, name)!r})")
        for name in ("max_body_bytes", "max_decoded_bytes", "max_header_bytes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"{name!r} must be a positive number of bytes (got {getattr(self, name)!r})")


class BlockedAddress(Exception):
    """Every address the host resolved to is refused; nothing was connected. Deliberately not an
    OSError, so urllib3 does not wrap it as a network error or retry it."""

    def __init__(self, host: str, detail: str) -> None:
        super().__init__(f"{host}: {detail}")
        self.detail = detail


def address_refusal(ip: str, allow_loopback: bool = False, allow_private: bool = False) -> str | None:
    """Why connecting to ``ip`` is refused, or None if it is allowed."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if addr.version == 6 and addr.ipv4_mapped is not None:
        inner = addr.ipv4_mapped
        # A mapped form of a non-global IPv4 address is a classic filter bypass; no real site needs it.
        return None if inner.is_global else f"{ip} is IPv4-mapped {inner}, not a public address"
    if addr in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if addr.is_link_local:
        return f"{ip} is link-local"
    if addr.is_multicast or addr.is_unspecified:
        return f"{ip} is multicast or unspecified"
    if addr.is_loopback:  # before is_reserved: Python counts ::1 as reserved (::/8)
        return None if (allow_loopback or allow_private) else f"{ip} is loopback (allow with --allow-loopback)"
    if addr.is_reserved:
        return f"{ip} is reserved"
    if addr.is_global:
        return None
    if allow_private and (addr.is_private or addr in ipaddress.ip_network("100.64.0.0/10")):
        return None
    return f"{ip} is not a public address (allow private ranges with --allow-private)"


class _SafeConnectionMixin:
    """Resolve, check, then connect to the checked IP literal (see the module docstring)."""

    fetch_config: FetchConfig  # set on the per-pool subclass
    connected_ip: str | None = None

    def _new_conn(self) -> socket.socket:
        cfg = self.fetch_config
        host = self._dns_host.strip("[]")
        try:
            if host in cfg.resolve:
                infos = [(socket.AF_INET6 if ":" in cfg.resolve[host] else socket.AF_INET, None, None, None,
                          (cfg.resolve[host], self.port))]
            else:
                infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        refusals, last_error = [], None
        for family, _, _, _, sockaddr in infos:
            ip = sockaddr[0]
            why = address_refusal(ip, cfg.allow_loopback, cfg.allow_private)
            if why:
                refusals.append(why)
                continue
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(sockaddr[:2] if family == socket.AF_INET else sockaddr)
            except socket.timeout as e:
                sock.close()
                raise ConnectTimeoutError(self, f"connect to {ip} timed out") from e
            except OSError as e:
                sock.close()
                last_error = e
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connected_ip = ip
            return sock
        if last_error is not None:
            raise NewConnectionError(self, f"failed to connect to {self.host}: {last_error}")
        raise BlockedAddress(self.host, "; ".join(sorted(set(refusals))) or "no address")


@dataclass
class FetchResult:
    url: str
    status: int = 0                  # 0 when no response was received
    reason: str = ""                 # HTTP reason phrase
    http_version: str = "HTTP/1.1"
    headers: list = field(default_factory=list)  # [(name, value)] as received
    body: bytes = b""                # decoded (Content-Encoding removed)
    content_encoding: str = ""       # what the server sent, recorded in the WARC as X-Crawler-*
    ip: str | None = None
    request: bytes = b""             # the request as sent (start line + headers)
    fetch_time: float = 0.0          # seconds since the epoch when the request started
    error: str | None = None         # a reason code: timeout, too_large, blocked.private_address, ...
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class Fetcher:
    """One per thread (or per host owner): keeps a keep-alive pool per origin. Not thread safe."""

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self._pools: dict[tuple, urllib3.HTTPConnectionPool] = {}

    def _pool(self, scheme: str, host: str, port: int) -> urllib3.HTTPConnectionPool:
        key = (scheme, host, port)
        if key not in self._pools:
            base, pool_cls = ((HTTPSConnection, urllib3.HTTPSConnectionPool) if scheme == "https"
                              else (HTTPConnection, urllib3.HTTPConnectionPool))
            conn_cls = type("Safe" + base.__name__, (_SafeConnectionMixin, base), {"fetch_config": self.config})
            pool = pool_cls(host, port, maxsize=1, block=False, retries=False)
            pool.ConnectionCls = conn_cls
            self._pools[key] = pool
        return self._pools[key]

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def fetch(self, url: str) -> FetchResult:
        cfg = self.config
        res = FetchResult(url=url, fetch_time=time.time())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            res.error, res.detail = "blocked.scheme", f"scheme {parts.scheme!r} is not http or https"
            return res
        try:
            host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as e:
            res.error, res.detail = "invalid_url", str(e)
            return res
        if not host:
            res.error, res.detail = "invalid_url", "no host"
            return res
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": cfg.user_agent, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                   "Accept-Encoding": "gzip, deflate, br"}
        host_header = parts.netloc.rsplit("@", 1)[-1]
        res.request = (f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\n"
                       + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode("latin-1", "replace")
        pool = self._pool(parts.scheme, host, port)
        deadline = res.fetch_time + cfg.request_seconds
        resp = None
        try:
            resp = pool.urlopen("GET", target, headers=headers, redirect=False, retries=False,
                                preload_content=False, decode_content=False, assert_same_host=False,
                                timeout=urllib3.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout),
                                release_conn=False)
            conn = resp.connection
            res.ip = getattr(conn, "connected_ip", None) if conn is not None else None
            res.status, res.reason = resp.status, resp.reason or ""
            res.http_version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.version, "HTTP/1.1")
            res.headers = list(resp.headers.items())
            header_bytes = sum(len(k) + len(v) + 4 for k, v in res.headers)
            if header_bytes > cfg.max_header_bytes:
                raise _Cap("too_large", f"headers are {header_bytes} bytes > max_header_bytes={cfg.max_header_bytes}")
            raw = self._read_body(resp, deadline)
            res.content_encoding = (resp.headers.get("Content-Encoding") or "").strip().lower()
            res.body = decode_body(raw, res.content_encoding, cfg.max_decoded_bytes)
        except _Cap as e:
            res.error, res.detail = e.reason, e.detail
            _drop_connection(resp)
        except BlockedAddress as e:
            res.error, res.detail = "blocked.private_address", e.detail
        except (ConnectTimeoutError, ReadTimeoutError, socket.timeout, TimeoutError) as e:
            res.error, res.detail = "timeout", str(e)[:300]
            _drop_connection(resp)
        except NameResolutionError as e:
            res.error, res.detail = "dns", str(e)[:300]
        except SSLError as e:
            res.error, res.detail = "tls", str(e)[:300]
        except (NewConnectionError, ProtocolError, HTTPError, OSError) as e:
            # urllib3 wraps read timeouts raised mid-body in ProtocolError; keep the honest reason.
            cause = e.__context__ or e.__cause__
            reason = "timeout" if isinstance(cause, (socket.timeout, TimeoutError, ReadTimeoutError)) else "connection"
            res.error, res.detail = reason, str(e)[:300]
            _drop_connection(resp)
        else:
            resp.release_conn()
        return res

    def _read_body(self, resp, deadline: float) -> bytes:
        cfg = self.config
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cfg.max_body_bytes:
            raise _Cap("too_large", f"Content-Length {declared} > max_body_bytes={cfg.max_body_bytes}")
        chunks, size = [], 0
        sock = getattr(resp.connection, "sock", None)
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise _Cap("timeout", f"body not complete after request_seconds={cfg.request_seconds}")
            if sock is not None:  # no single wait may outlast the request's wall-clock budget
                sock.settimeout(min(cfg.read_timeout, left))
            # read1: one receive at a time, so a server dripping bytes cannot hold a read open forever.
            chunk = resp.read1(CHUNK, decode_content=False)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cfg.max_body_bytes:
                raise _Cap("too_large", f"body exceeds max_body_bytes={cfg.max_body_bytes}")
            chunks.append(chunk)


class _Cap(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _drop_connection(resp) -> None:
    """Close a half-read response's socket so it never returns to the pool (the server sees a reset)."""
    if resp is None:
        return
    conn = resp.connection
    resp.close()
    if conn is not None:
        conn.close()
    resp.release_conn()


def decode_body(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo Content-Encoding (gzip, x-gzip, deflate, br, identity; chained codings in reverse order),
    refusing to produce more than ``max_bytes``. Raises _Cap('too_large' | 'bad_encoding')."""
    data = raw
    codings = [c.strip() for c in encoding.split(",") if c.strip() and c.strip() != "identity"]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, 16 + zlib.MAX_WBITS, max_bytes)
        elif coding == "deflate":
            try:  # RFC 9110 deflate is zlib-wrapped; some servers send raw deflate
                data = _inflate(data, zlib.MAX_WBITS, max_bytes)
            except zlib.error:
                data = _inflate(data, -zlib.MAX_WBITS, max_bytes)
        elif coding == "br":
            data = _unbrotli(data, max_bytes)
        else:
            raise _Cap("bad_encoding", f"Content-Encoding {coding!r} is not gzip, deflate or br")
    return data


def _inflate(data: bytes, wbits: int, max_bytes: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out, size, pending = [], 0, data
    try:
        while pending:
            piece = d.decompress(pending, max_bytes + 1 - size)
            size += len(piece)
            out.append(piece)
            if size > max_bytes:
                raise _Cap("too_large", f"decoded body exceeds max_decoded_bytes={max_bytes}")
            if d.eof or (not piece and d.unconsumed_tail == pending):
                break  # end of stream, or no progress possible (truncated input): keep what decoded
            pending = d.unconsumed_tail
    except zlib.error as e:
        if wbits == zlib.MAX_WBITS:
            raise
        raise _Cap("bad_encoding", f"corrupt compressed body: {e}") from e
    return b"".join(out)


def _unbrotli(data: bytes, max_bytes: int) -> bytes:
    d = brotli.Decompressor()
    out, size = [], 0
    try:
        piece = d.process(data, output_buffer_limit=CHUNK)
        while True:
            size += len(piece)
            out.append(piece)
            if size > max_bytes:
                raise _Cap("too_large", f"decoded body exceeds max_decoded_bytes={max_bytes}")
            if d.is_finished() or (not piece and d.can_accept_more_data()):
                break
            piece = d.process(b"", output_buffer_limit=CHUNK)
    except brotli.error as e:
        raise _Cap("bad_encoding", f"corrupt brotli body: {e}") from e
    return b"".join(out)
