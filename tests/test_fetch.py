"""The safe fetcher against real servers on 127.0.0.1: address checks, caps, decoding, no redirects."""
from __future__ import annotations

import socket
import time
import zlib

import brotli
import pytest

from pipelines.io import fetch as F
from pipelines.io.fetch import FetchConfig, Fetcher, address_refusal, decode_body
from tests import crawl_site as cs


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
                                "100.64.0.1", "fc00::1", "169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0",
                                "::", "240.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
                                "fd00:ec2::254"])
def test_non_public_addresses_refused_by_default(ip):
    assert address_refusal(ip) is not None


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_allowed(ip):
    assert address_refusal(ip) is None


def test_allowances_never_open_link_local_metadata_or_mapped_forms():
    for ip in ("127.0.0.1", "::1"):
        assert address_refusal(ip, allow_loopback=True) is None
    assert address_refusal("10.0.0.1", allow_loopback=True) is not None
    assert address_refusal("10.0.0.1", allow_private=True) is None
    for ip in ("169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200", "::ffff:127.0.0.1", "224.0.0.1"):
        assert address_refusal(ip, allow_loopback=True, allow_private=True) is not None, ip


@pytest.fixture()
def site():
    s = cs.Site().start()
    yield s
    s.stop()


def test_loopback_refused_without_allowance_and_never_connected(site):
    site.routes["/"] = cs.page(b"<html>hi</html>")
    res = Fetcher(FetchConfig()).fetch(f"{site.base}/")
    assert res.error == "blocked.private_address" and res.status == 0
    assert site.paths() == []


def test_check_uses_the_answer_it_connects_to(site, monkeypatch):
    """A name whose DNS answer is loopback is refused: the resolution that is checked is the one used."""
    site.routes["/"] = cs.page(b"<html>hi</html>")
    calls = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(F.socket, "getaddrinfo", fake_getaddrinfo)
    res = Fetcher(FetchConfig()).fetch(f"http://rebind.test:{site.port}/")
    assert res.error == "blocked.private_address" and calls == ["rebind.test"]
    assert site.paths() == []
    # With loopback allowed, the same name connects to exactly the checked address.
    res = Fetcher(FetchConfig(allow_loopback=True)).fetch(f"http://rebind.test:{site.port}/")
    assert res.ok and res.ip == "127.0.0.1" and site.paths() == ["/"]


def test_metadata_address_via_resolver_override_refused(site):
    cfg = FetchConfig(allow_loopback=True, allow_private=True, resolve={"meta.test": "169.254.169.254"})
    res = Fetcher(cfg).fetch("http://meta.test/latest/meta-data/")
    assert res.error == "blocked.private_address" and "metadata" in res.detail


def test_scheme_refused():
    assert Fetcher(FetchConfig()).fetch("file:///etc/passwd").error == "blocked.scheme"
    assert Fetcher(FetchConfig()).fetch("ftp://127.0.0.1/").error == "blocked.scheme"


def test_redirect_returned_not_followed_and_no_cookies(site):
    site.routes["/r"] = lambda h: h.respond(302, b"", headers={"Location": "http://169.254.169.254/",
                                                                "Set-Cookie": "sid=secret"})
    f = Fetcher(FetchConfig(allow_loopback=True))
    res = f.fetch(f"{site.base}/r")
    assert res.status == 302 and res.header("Location") == "http://169.254.169.254/" and res.ok
    f.fetch(f"{site.base}/r")
    assert all("Cookie" not in e["headers"] for e in site.log)
    assert site.log[0]["headers"]["User-Agent"].startswith("gristmill")


def test_gzip_deflate_brotli_decoded(site):
    html = b"<html><body>" + b"words " * 2000 + b"</body></html>"
    deflate = zlib.compress(html)
    site.routes.update({
        "/g": cs.gzipped(_gzip(html)),
        "/d": lambda h: h.respond(200, deflate, headers={"Content-Encoding": "deflate"}),
        "/b": lambda h: h.respond(200, brotli.compress(html), headers={"Content-Encoding": "br"}),
    })
    f = Fetcher(FetchConfig(allow_loopback=True))
    for path in ("/g", "/d", "/b"):
        res = f.fetch(site.base + path)
        assert res.ok and res.body == html and res.content_encoding in ("gzip", "deflate", "br"), path


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def test_bombs_cut_at_decoded_cap():
    cap = 1 << 20
    zeros = b"\0" * (32 << 20)
    with pytest.raises(F._Cap) as e:
        decode_body(_gzip(zeros), "gzip", cap)
    assert e.value.reason == "too_large"
    with pytest.raises(F._Cap):
        decode_body(zlib.compress(zeros), "deflate", cap)
    with pytest.raises(F._Cap):
        decode_body(brotli.compress(zeros), "br", cap)
    assert decode_body(_gzip(b"x" * cap), "gzip", cap) == b"x" * cap  # exactly at the cap is fine
    with pytest.raises(F._Cap) as e:
        decode_body(b"not gzip at all", "gzip", cap)
    assert e.value.reason == "bad_encoding"


def test_body_header_and_time_caps(site):
    site.routes.update({
        "/big": cs.page(b"x" * 300_000),
        "/endless": cs.endless(64 << 20),
        "/headers": lambda h: h.respond(200, b"ok", headers={f"X-Pad-{i}": "y" * 1000 for i in range(40)}),
        "/slow": cs.slow(3.0),
    })
    f = Fetcher(FetchConfig(allow_loopback=True, max_body_bytes=100_000, max_header_bytes=8_000,
                            read_timeout=1.0, request_seconds=2.0))
    assert f.fetch(site.base + "/big").error == "too_large"  # refused from Content-Length
    res = f.fetch(site.base + "/endless")
    assert res.error == "too_large" and len(res.body) == 0
    assert f.fetch(site.base + "/headers").error == "too_large"
    res = f.fetch(site.base + "/slow")
    assert res.error == "timeout"
    f.close()
    endless = [e for e in site.log if e["path"] == "/endless"][0]
    for _ in range(50):  # the server notices the hang-up on its next write
        if endless.get("end"):
            break
        time.sleep(0.1)
    assert endless["outcome"] == "client_closed" and endless["sent"] < 32 << 20


def test_slow_drip_stopped_by_request_seconds(site):
    """Bytes arriving just faster than read_timeout never trip it; the wall-clock cap still does."""

    def drip(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(1000):
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.3)

    site.routes["/drip"] = drip
    f = Fetcher(FetchConfig(allow_loopback=True, read_timeout=1.0, request_seconds=1.5))
    t = time.time()
    res = f.fetch(site.base + "/drip")
    assert res.error == "timeout" and time.time() - t < 3.5
