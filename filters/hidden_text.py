"""Text in the HTML that a reader never sees: the classic carrier of web poisoning aimed at crawlers and LLM agents.

Measured on the decoded HTML *before* extraction (extraction would either drop the hidden text, hiding
the evidence, or keep it, hiding where it came from). Runs on ``doc["_html"]``; writes
``hidden_text_ratio`` (hidden characters / all text characters of the body), ``hidden_text_chars`` and
``hidden_injection_hits`` (instructions addressed to AI models found *in the hidden text*: the injection rules'
kinds plus text that speaks to an AI reader; and, in HTML comments and in alt / title / aria-label / meta content
attributes, text that speaks to an AI reader).

An element is hidden when its inline style or a ``<style>`` rule (any static CSS selector, matched by cssselect)
sets ``display:none``, ``visibility:hidden``, ``opacity:0``, a zero ``font-size``, a zero width or height
with ``overflow:hidden``, a far off-screen position or text-indent, or a text colour equal to its
background colour; or it has the ``hidden`` attribute or ``aria-hidden="true"``. Everything inside a hidden
element is hidden. Scripts, styles, templates and noscript are not text and are not counted.

Drop ``poison.hidden_text`` when the hidden ratio is at least ``max_ratio`` with at least ``min_chars``
hidden characters, or when the hidden text carries any instruction to an AI model. Legitimate pages
hide menus and dialogs, so the ratio threshold is set above what the real pages of the shared data
show (see the README's measurement); hidden instructions are never legitimate.
"""
from __future__ import annotations

import re

from filters.verdict import drop, keep

STAGE = "hidden_text"
REASONS = {"poison.hidden_text": "most of the body text is hidden from readers (display:none, visibility, zero size, same colour, aria-hidden), or hidden text addresses an AI model"}
COLUMNS = {"hidden_text_ratio": "float", "hidden_text_chars": "int", "hidden_injection_hits": "int"}
DEFAULT_CONFIG = {"max_ratio": 0.8, "min_chars": 200, "enforce": True}

_SKIP = {"script", "style", "template", "noscript", "head", "title", "meta", "link"}
_HIDING = [
    re.compile(r"display\s*:\s*none"),
    re.compile(r"visibility\s*:\s*(hidden|collapse)"),
    re.compile(r"(?<![-\w])opacity\s*:\s*0(\.0+)?\s*(;|$|!)"),
    re.compile(r"font-size\s*:\s*0(\.0+)?\s*(px|em|rem|pt|%)?\s*(;|$|!)"),
    re.compile(r"font-size\s*:\s*(0*\.\d+|1)(\.0+)?\s*px\s*(;|$|!)"),  # under 2px: a dot, not text
    re.compile(r"(text-indent|left|top|margin-left)\s*:\s*-\d{3,}"),
    re.compile(r"clip\s*:\s*rect\(\s*0(px)?[\s,]+0(px)?[\s,]+0(px)?[\s,]+0(px)?\s*\)"),
    re.compile(r"clip-path\s*:\s*(inset\(\s*(50|100)%|circle\(\s*0(px|%)?\s*[)a])"),
    re.compile(r"transform\s*:[^;]*scale\(\s*0(\.0+)?\s*[,)]"),
    # transparent text: the keyword, or a colour whose alpha is 0
    re.compile(r"(?<![-\w])color\s*:\s*(transparent|(rgba|hsla)\([^)]*[,/]\s*0(\.0+)?%?\s*\))"),
]
_ZERO_BOX = re.compile(r"(?<![-\w])(max-)?(width|height)\s*:\s*0(px)?\s*(;|$|!)")
_OVERFLOW_HIDDEN = re.compile(r"overflow\s*:\s*hidden")
_COLOR = re.compile(r"(?<![-\w])color\s*:\s*([^;!]+)")
_BG = re.compile(r"background(-color)?\s*:\s*([^;!]+)")
# The few names a page would use to paint text into its background; anything else is compared by its value.
_NAMED = {"white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255),
          "yellow": (255, 255, 0), "silver": (192, 192, 192), "gray": (128, 128, 128), "grey": (128, 128, 128),
          "whitesmoke": (245, 245, 245), "snow": (255, 250, 250), "ivory": (255, 255, 240)}
_RGB = re.compile(r"rgba?\(\s*([\d.]+)(%?)[\s,]+([\d.]+)(%?)[\s,]+([\d.]+)(%?)")
_COLOR_TOKEN = re.compile(r"#[0-9a-f]{3,8}\b|rgba?\([^)]*\)|[a-z]+")
WHITE = (255, 255, 255)  # the page background when no stylesheet can set one (see measure)
NEAR = 8  # colours this close in every channel read as one (#fefefe on white is as invisible as #fff)


def parse_color(value: str) -> tuple[int, int, int] | None:
    """(r, g, b) of the first CSS colour in ``value`` (hex, rgb()/rgba(), a common name), or None."""
    for tok in _COLOR_TOKEN.findall(value.lower()):
        if tok.startswith("#"):
            h = tok[1:]
            if len(h) in (3, 4):
                return tuple(int(c * 2, 16) for c in h[:3])
            if len(h) in (6, 8):
                return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
        elif tok.startswith("rgb"):
            m = _RGB.match(tok)
            if m:
                return tuple(min(255, round(float(m.group(i)) * (2.55 if m.group(i + 1) else 1))) for i in (1, 3, 5))
        elif tok in _NAMED:
            return _NAMED[tok]
    return None


def _same_color(a, b) -> bool:
    return a is not None and b is not None and max(abs(x - y) for x, y in zip(a, b)) <= NEAR


def style_hides(style: str) -> bool:
    s = style.lower()
    if any(rx.search(s) for rx in _HIDING):
        return True
    if _ZERO_BOX.search(s) and _OVERFLOW_HIDDEN.search(s):
        return True
    fg, bg = _COLOR.search(s), _BG.search(s)
    return bool(fg and bg) and _same_color(parse_color(fg.group(1)), parse_color(bg.group(2)))


_READ_ATTRS = frozenset({"alt", "title", "aria-label", "aria-description", "content", "placeholder"})
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_BRACE = re.compile(r"[{}]")


def _media_applies(prelude: str) -> bool:
    """A ``@media`` query that holds on any screen: ``screen`` or ``all`` (or none), no feature conditions. A
    print-only rule, or one for narrow screens (a collapsed menu), does not hide the text from every reader."""
    q = prelude[len("@media"):].strip().lower()
    return "(" not in q and (not q or any(t in ("screen", "all") for t in re.split(r"[\s,]+", q)))


def _hiding_selectors(css: str) -> list[str]:
    """Selectors of the stylesheet rules that hide what they match. Rules inside ``@media`` count where
    ``_media_applies``; ``@supports`` and ``@layer`` blocks are read through; other at-rules (keyframes, font
    faces) are not rules about elements.

    A scan over the braces rather than a CSS library: tinycss2 (pure-Python tokenizer) parsed the same blocks
    but cost 30-70 ms on a news page's inline CSS, 3.4x the stage's own time over the sample crawl and the
    shared WARCs, and all this needs is each rule's selector text, its declarations and the at-rules around it.
    Braces inside strings (``content: "{"``) can misplace a rule; an unbalanced sheet ends where it breaks."""
    css = _COMMENT.sub("", css)
    out: list[str] = []
    stack: list[tuple[str, int, bool]] = []  # (prelude, where its block starts, whether its rules apply)
    last = 0
    for m in _BRACE.finditer(css):
        if m.group() == "{":
            prelude = css[last:m.start()].rsplit(";", 1)[-1].strip()  # after any "@import ...;" before it
            ok = not stack or stack[-1][2]
            if prelude.startswith("@"):
                kw = prelude[1:].split(None, 1)[0].lower() if len(prelude) > 1 else ""
                ok = ok and (kw in ("supports", "layer") or (kw == "media" and _media_applies(prelude)))
            stack.append((prelude, m.end(), ok))
        elif stack:
            prelude, start, ok = stack.pop()
            if ok and prelude and not prelude.startswith("@") and style_hides(css[start:m.start()]):
                out.extend(sel.strip() for sel in prelude.split(",") if sel.strip())
        else:
            break  # a stray "}": the sheet is broken from here on
        last = m.end()
    return out


def _stylesheet_hidden(root) -> set:
    """The elements that a ``<style>`` rule hides, matched with cssselect (any selector a browser supports without
    running the page: descendant and child combinators, compound classes, attributes, :not(), :nth-child();
    :hover and the like match nothing, pseudo-elements are skipped). Linked stylesheets and scripts are not read."""
    from cssselect import HTMLTranslator, SelectorError
    from lxml import etree

    to_xpath, hidden = HTMLTranslator().css_to_xpath, set()
    for st in root.iter("style"):
        for sel in _hiding_selectors(st.text or ""):
            try:
                hidden.update(root.xpath(to_xpath(sel)))
            except (SelectorError, etree.XPathError):
                continue  # a selector cssselect cannot express (pseudo-elements, bad syntax): never guessed
    return hidden


def measure(html: str) -> dict:
    """{'total_chars', 'hidden_chars', 'hidden_text', 'unrendered_text'} for an HTML string (lxml; malformed HTML is
    tolerated). ``unrendered_text``: comments and the attribute texts of _READ_ATTRS, one per line."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):  # empty document, or a str with an encoding declaration
        try:
            root = lxml.html.document_fromstring(html.encode("utf-8", errors="replace"))
        except (etree.ParserError, ValueError):
            return {"total_chars": 0, "hidden_chars": 0, "hidden_text": "", "unrendered_text": ""}
    by_stylesheet = _stylesheet_hidden(root)
    total = hidden = 0
    hidden_parts: list[str] = []

    def is_hidden(el, st: str, bg) -> bool:
        """``st``: el's inline style, lower-cased ("" without one); ``bg``: the background behind its text."""
        a = el.attrib
        if "hidden" in a or a.get("aria-hidden", "").strip().lower() == "true":
            return True
        if el in by_stylesheet:
            return True
        if st and style_hides(st):
            return True
        # text painted in the colour of what is behind it (inline styles and <font color>; stylesheet colours
        # are not tracked)
        m = _COLOR.search(st)
        fg = parse_color(m.group(1)) if m else parse_color(a.get("color", "")) if el.tag == "font" else None
        return _same_color(fg, bg)

    def background(el, st: str, bg):
        """The background behind el's text: its own (inline style ``st``, lower-cased, or bgcolor) or its parent's."""
        m = _BG.search(st)
        own = parse_color(m.group(2)) if m else None
        if own is None and el.attrib.get("bgcolor"):
            own = parse_color(el.attrib["bgcolor"])
        return own or bg

    def count(text: str | None, hid: bool) -> None:
        nonlocal total, hidden
        text = text and text.strip()
        if text:
            total += len(text)
            if hid:
                hidden += len(text)
                hidden_parts.append(text)

    def walk(el, hid: bool, bg) -> None:
        # Comments and processing instructions (non-str tags) and skipped tags add only their tail.
        if isinstance(el.tag, str) and el.tag.lower() not in _SKIP:
            st = (el.attrib.get("style") or "").lower()  # once per element: three readers below
            here_bg = background(el, st, bg)
            here = hid or is_hidden(el, st, here_bg)
            count(el.text, here)
            for child in el:
                walk(child, here, here_bg)
        count(el.tail, hid)  # the tail belongs to the parent's visibility, not this element's

    # HTML comments are never shown either: text there that speaks to an AI is aimed at whatever reads the raw page
    # (an agent, a scraper feeding a model). Scanned for that only (see stage), not counted in the ratio.
    unrendered = [c.text.strip() for c in root.iter(etree.Comment) if c.text and c.text.strip()]
    # So are attribute texts that tools read and most readers never see (image alt text, titles, ARIA labels,
    # meta descriptions): the same rule reads them.
    unrendered += [v.strip() for el in root.iter() if isinstance(el.tag, str)
                 for k, v in el.attrib.items() if k in _READ_ATTRS and v.strip()]
    body = root.find("body")
    # The default white shows only where no stylesheet can paint the page: with a <style> that sets a background or a
    # linked stylesheet, white text may sit on a dark footer (measured: footers and result tables of the sample crawl
    # read as hidden), so there only an inline or bgcolor background counts.
    styled = any("background" in (st.text or "").lower() for st in root.iter("style")) or any(
        "stylesheet" in (ln.get("rel") or "").lower() for ln in root.iter("link"))
    walk(body if body is not None else root, False,
         background(root, (root.attrib.get("style") or "").lower(), None if styled else WHITE))
    return {"total_chars": total, "hidden_chars": hidden, "hidden_text": " ".join(hidden_parts),
            "unrendered_text": "\n".join(unrendered)}


def stage(config: dict):
    """Runs before extraction on ``doc['_html']``."""
    from filters.injection import ai_reader_hits, rule_hits
    from pipelines.stages import Stage

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    max_ratio, min_chars = float(cfg["max_ratio"]), int(cfg["min_chars"])
    if not 0.0 < max_ratio <= 1.0:
        raise ValueError(f"'hidden_text.max_ratio' must be in (0, 1] (got {max_ratio})")
    if min_chars < 0:
        raise ValueError(f"'hidden_text.min_chars' must be >= 0 (got {min_chars})")

    def fn(doc: dict):
        m = measure(doc.get("_html") or "")
        ratio = m["hidden_chars"] / m["total_chars"] if m["total_chars"] else 0.0
        hid, com = m["hidden_text"], m["unrendered_text"]
        # Comments and attributes are read for text that speaks to an AI reader only: the general injection moves fire on
        # commented-out code and markers ("<!-- === End header -->", "output(...)"): 4 of 296 real pages dropped.
        hits = (sum(rule_hits(hid).values()) + ai_reader_hits(hid) if hid else 0) + (ai_reader_hits(com) if com else 0)
        sig = {"hidden_text_ratio": round(ratio, 6), "hidden_text_chars": m["hidden_chars"],
               "hidden_injection_hits": int(hits)}
        if hits or (ratio >= max_ratio and m["hidden_chars"] >= min_chars):
            return drop("poison.hidden_text", **sig)
        return keep(**sig)

    return Stage(STAGE, fn, dict(COLUMNS), enforce=bool(cfg["enforce"]))
