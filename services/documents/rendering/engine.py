"""jinja2 -> a small declarative layout (XML) -> PDF drawn on a ReportLab canvas.

Why not RML / HTML: z3c.rml took about 30 ms per statement and an HTML engine
about 190 ms, and the fund renders 200,000 statements per campaign. This module
draws directly on ReportLab's canvas (no platypus), with its own small line
breaker and table layout: a few milliseconds per document (measured by
tests/bench/bench_rendering.py).

Every word a reader sees is written in the jinja2 templates
(services/documents/templates/*.xml.j2): they render a tiny XML vocabulary
that this module lays out. Python only knows the geometry (A4, letterhead,
envelope window, margins) and the typographic styles, never the language.

The vocabulary (see _layout.xml.j2 for a complete example)::

    <document title="..." author="...">
      <letterhead name="Carpimko"><line>...</line>...</letterhead>
      <file-number>N° de dossier : 1234567</file-number>   top right, every page
      <page-label>Page {page} / {pages}</page-label>      bottom right, every page
      <footer>Carpimko – Relevé de cotisations 2026</footer>
      <address><name>...</name><line>...</line></address> envelope window, page 1
      <verification url="https://.../verify/CODE">        QR code + text, page 1
        <line>...</line>...
      </verification>
      <body>
        <para style="title">inline markup: <b>, <i>, <br/></para>
        <bullet mark="•">...</bullet>
        <spacer height="8"/>                              (points)
        <table style="lines" widths="64,30,16,30,30" repeat="1">   (millimetres)
          <tr><td>text</td><td><para>markup</para></td></tr>
        </table>
      </body>
    </document>

Styles are the names in PARA_STYLES / TABLE_STYLES below. Pages break where
needed: paragraphs between lines, tables between rows (repeating the header
row when ``repeat="1"``), a heading is kept with what follows.

Fonts: Bitstream Vera (shipped inside reportlab: accents, « », –, €), parsed
once per process and embedded as TrueType subsets (/FontFile2) in every PDF.
"""

from __future__ import annotations

import copy
import functools
import io
import itertools
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree as ET

import jinja2
import reportlab
import reportlab.rl_config
from PIL import Image
from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfdoc, pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from . import formatting

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

PAGE_WIDTH, PAGE_HEIGHT = 210 * mm, 297 * mm  # A4

# binary (zlib only) streams instead of ASCII85 + zlib: smaller files, and no
# pure-Python base-85 encoding
reportlab.rl_config.useA85 = 0

# ------------------------------------------------------------------ fonts

_FONT_DIR = Path(reportlab.__file__).resolve().parent / "fonts"
FONTS = {
    "Doc": "Vera.ttf",
    "Doc-Bold": "VeraBd.ttf",
    "Doc-Italic": "VeraIt.ttf",
    "Doc-BoldItalic": "VeraBI.ttf",
}
# (bold, italic) -> font
_FAMILY = {(False, False): "Doc", (True, False): "Doc-Bold", (False, True): "Doc-Italic",
           (True, True): "Doc-BoldItalic"}
_TRAITS = {name: traits for traits, name in _FAMILY.items()}

# Every document first maps this fixed character set, in this order, into its
# font subsets: the subsets are then the same for every document (unless a text
# uses a rarer character), so each font's subset is built and compressed once
# per process instead of once per document (see _CachedSubsets).
CHARSET = ("".join(chr(c) for c in range(32, 127)) + "".join(chr(c) for c in range(161, 256))
           + "€–—‘’“”«»…•œŒŸ")


class _CachedSubsets:
    """Replaces TTFontFace.addSubsetObjects for our fonts: the subset font file
    (built by reportlab, then zlib-compressed) is memoised by its glyph list."""

    MAX_ENTRIES = 32

    def __init__(self, face):
        self.face = face
        self.cache: dict[tuple, tuple[bytes, int]] = {}

    def __call__(self, doc, fontname, subset):
        key = tuple(subset)
        hit = self.cache.get(key)
        if hit is None:
            raw = self.face.makeSubset(subset)
            hit = (zlib.compress(raw), len(raw))
            if len(self.cache) < self.MAX_ENTRIES:
                self.cache[key] = hit
        font_file = pdfdoc.PDFStream()
        font_file.content = hit[0]
        font_file.dictionary["Length1"] = hit[1]
        font_file.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
        font_file_ref = doc.Reference(font_file, f"fontFile:{self.face.filename}({fontname})")
        flags = (self.face.flags & ~ttfonts.FF_NONSYMBOLIC) | ttfonts.FF_SYMBOLIC
        descriptor = pdfdoc.PDFDictionary({
            "Type": "/FontDescriptor",
            "Ascent": self.face.ascent,
            "CapHeight": self.face.capHeight,
            "Descent": self.face.descent,
            "Flags": flags,
            "FontBBox": pdfdoc.PDFArray(self.face.bbox),
            "FontName": pdfdoc.PDFName(fontname),
            "ItalicAngle": self.face.italicAngle,
            "StemV": self.face.stemV,
            "FontFile2": font_file_ref,
            "MissingWidth": self.face.defaultWidth,
        })
        return doc.Reference(descriptor, "fontDescriptor:" + fontname)


class _Preformatted(pdfdoc.PDFObject):
    """A PDF value formatted once (a font's Widths array), written as is."""

    def __init__(self, data: bytes):
        self.data = data

    def format(self, document):
        return self.data


class _CachedFontObjects:
    """Replaces TTFont.addObjects for our fonts: same PDF objects, but the
    Widths array and the compressed ToUnicode CMap of a subset are built once
    per process (the subsets are the same in every document, see CHARSET)."""

    MAX_ENTRIES = 32

    def __init__(self, font: TTFont):
        self.font = font
        self.cache: dict[tuple, tuple] = {}

    def _objects(self, base_name: str, subset: list) -> tuple:
        key = (base_name, tuple(subset))
        hit = self.cache.get(key)
        if hit is None:
            widths = pdfdoc.PDFArray(list(map(self.font.face.getCharWidth, subset)))
            cmap = ttfonts.makeToUnicodeCMap(base_name, subset)
            if isinstance(cmap, str):
                cmap = cmap.encode("latin-1")
            hit = (_Preformatted(widths.format(None)), zlib.compress(cmap))
            if len(self.cache) < self.MAX_ENTRIES:
                self.cache[key] = hit
        return hit

    def __call__(self, doc):
        font = self.font
        state = font.state.get(doc)
        if state is None:
            state = font.state[doc] = TTFont.State(font._asciiReadable)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal_name = font.getSubsetInternalName(n, doc)[1:]
            base_name = b"".join((ttfonts.SUBSETN(n), b"+", font.face.name,
                                  font.face.subfontNameX)).decode("pdfdoc")
            widths, cmap = self._objects(base_name, subset)
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = widths
            stream = pdfdoc.PDFStream()
            stream.content = cmap
            stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
            pdf_font.ToUnicode = doc.Reference(stream, "toUnicodeCMap:" + base_name)
            pdf_font.FontDescriptor = font.face.addSubsetObjects(doc, base_name, subset)
            doc.Reference(pdf_font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = pdf_font
        del font.state[doc]


# what CHARSET maps to in every document (see _seed_fonts); U+00A0 is drawn as a space
_CHARSET_TEXT = frozenset(CHARSET + "\u00a0")


class _CachedSplit:
    """Replaces TTFont.splitString for our fonts: a text's (subset, codes)
    chunks are memoised when every character of it is in CHARSET and the
    document's state was seeded with it (_seed_fonts): those characters have
    the same codes in every such document, so the chunks are a function of
    the text alone. Anything else (another canvas using the font, a rarer
    character, which takes the next free code) goes to reportlab's method."""

    MAX_ENTRIES = 4096

    def __init__(self, font: TTFont):
        self.font = font
        self.split = font.splitString
        self.cache: dict[str, tuple] = {}

    def __call__(self, text, doc, encoding="utf-8"):
        state = self.font.state.get(doc)
        seeded = getattr(state, "seeded_charset", False)
        if seeded:
            hit = self.cache.get(text)
            if hit is not None:
                return list(hit)
        result = self.split(text, doc, encoding)
        if (seeded and isinstance(text, str) and len(self.cache) < self.MAX_ENTRIES
                and _CHARSET_TEXT.issuperset(text)):
            self.cache[text] = tuple(result)
        return result


_OUR_FONTS: list[TTFont] = []
_SEEDED_STATES: dict[str, object] = {}


class _SeedKey:
    """A weak-referenceable stand-in for a document."""


_SEED_KEY = _SeedKey()


def _seed_fonts(doc) -> None:
    """Give ``doc`` the font states of CHARSET mapped in a fixed order (a copy
    of a state computed once, rather than mapping 200 characters per font for
    every document)."""
    for font in _OUR_FONTS:
        seeded = _SEEDED_STATES.get(font.fontName)
        if seeded is None:
            font.splitString(CHARSET, _SEED_KEY)
            seeded = _SEEDED_STATES[font.fontName] = font.state[_SEED_KEY]
        state = copy.copy(seeded)
        state.assignments = dict(seeded.assignments)
        state.subsets = [list(subset) for subset in seeded.subsets]
        state.seeded_charset = True
        font.state[doc] = state


def _register_fonts() -> None:
    from reportlab.lib.fonts import addMapping
    for name, file_name in FONTS.items():
        try:
            font = pdfmetrics.getFont(name)
        except KeyError:
            font = TTFont(name, str(_FONT_DIR / file_name))
            font.face.addSubsetObjects = _CachedSubsets(font.face)
            font.addObjects = _CachedFontObjects(font)
            font.splitString = _CachedSplit(font)
            pdfmetrics.registerFont(font)
        _OUR_FONTS.append(font)
    addMapping("Doc", 0, 0, "Doc")
    addMapping("Doc", 1, 0, "Doc-Bold")
    addMapping("Doc", 0, 1, "Doc-Italic")
    addMapping("Doc", 1, 1, "Doc-BoldItalic")


_register_fonts()


# ----------------------------------------------------------------- styles

BLUE = colors.HexColor("#1f4e79")
INK = colors.HexColor("#1a1a1a")
GREY = colors.HexColor("#404040")
LIGHT = colors.HexColor("#595959")
WHITE = colors.white


@dataclass(frozen=True)
class ParaStyle:
    font: str = "Doc"
    size: float = 9.5
    leading: float = 13.5
    space_before: float = 0
    space_after: float = 5
    color: object = INK
    left_indent: float = 0
    bullet_indent: float = 0
    align: str = "left"           # left | right
    keep_with_next: bool = False


_normal = ParaStyle()
PARA_STYLES: dict[str, ParaStyle] = {
    "normal": _normal,
    "kicker": replace(_normal, size=8, leading=10, space_after=1, color=LIGHT),
    "title": replace(_normal, font="Doc-Bold", size=15, leading=19, space_after=2, color=BLUE),
    "status": replace(_normal, font="Doc-Bold", size=10.5, leading=14, space_after=8),
    "heading": replace(_normal, font="Doc-Bold", size=10, leading=13, space_before=8,
                       space_after=4, color=BLUE, keep_with_next=True),
    "small": replace(_normal, size=7.5, leading=10, space_after=2, color=GREY),
    "bullet": replace(_normal, space_after=3, left_indent=14, bullet_indent=2),
    "dateline": replace(_normal, space_after=10, align="right"),
    "subject": replace(_normal, font="Doc-Bold", space_after=14),
    "signature": replace(_normal, left_indent=95 * mm, space_before=14),
    "code": replace(_normal, font="Doc-Bold", size=16, leading=22, space_before=6,
                    space_after=10, color=BLUE),
    # furniture
    "address": replace(_normal, size=10, leading=13, space_after=0, color=colors.black),
    "verification": replace(_normal, size=7, leading=9, space_after=0, color=GREY),
}


@dataclass(frozen=True)
class CellStyle:
    font: str = "Doc"
    size: float = 8.5
    color: object = INK
    align: str = "left"


@dataclass(frozen=True)
class TableStyle:
    """How a table looks: per-column cell styles (the last one repeats), an
    optional header row (first) and total row (last)."""
    columns: tuple = (CellStyle(),)
    padding: tuple = (4, 4, 6, 6)          # top, bottom, left, right (points)
    header: CellStyle | None = None
    header_background: object = None
    total: CellStyle | None = None
    stripes: tuple = ()                    # alternating body row backgrounds
    background: object = None
    box: tuple | None = None               # (colour, width) around each row block
    rule: tuple | None = None              # (colour, width) below each body row
    total_rule: tuple | None = None        # (colour, width) above the total row

    def cell(self, kind: str, column: int) -> CellStyle:
        base = self.columns[min(column, len(self.columns) - 1)]
        override = self.header if kind == "header" else self.total if kind == "total" else None
        if override is None:
            return base
        return replace(override, align=base.align)


_figures = (CellStyle(), CellStyle(align="right"))
TABLE_STYLES: dict[str, TableStyle] = {
    # label / value pairs
    "summary": TableStyle(columns=(CellStyle(color=GREY), CellStyle(font="Doc-Bold")),
                          padding=(1.5, 1.5, 0, 4)),
    # one highlighted figure
    "due": TableStyle(columns=(CellStyle(font="Doc-Bold", size=10, color=BLUE),
                               CellStyle(font="Doc-Bold", size=13, color=BLUE, align="right")),
                      padding=(7, 7, 8, 8), background=colors.HexColor("#e8eef5"),
                      box=(BLUE, 0.8)),
    # figures: a header row, rows, a total row (last)
    "lines": TableStyle(columns=_figures, header=CellStyle(font="Doc-Bold", size=8, color=WHITE),
                        header_background=BLUE, total=CellStyle(font="Doc-Bold", size=9.5),
                        stripes=(WHITE, colors.HexColor("#f2f5f9")),
                        rule=(colors.HexColor("#c9d3df"), 0.4), total_rule=(BLUE, 0.8)),
    # figures without a total row
    "grid": TableStyle(columns=_figures, header=CellStyle(font="Doc-Bold", size=8, color=WHITE),
                       header_background=BLUE, stripes=(WHITE, colors.HexColor("#f2f5f9")),
                       rule=(colors.HexColor("#c9d3df"), 0.4)),
}

# --------------------------------------------------------------- geometry
# (from the bottom-left corner of the page, like ReportLab)
LEFT = 20 * mm
RIGHT = 190 * mm
FILE_NUMBER_Y = 279 * mm          # 18 mm from the top, every page
ADDRESS_BOX = (112 * mm, 211 * mm, 85 * mm, 36 * mm)  # x, y, w, h: 50..86 mm from the top
QR_BOX = (20 * mm, 213 * mm, 24 * mm)   # x, y, size: 60..84 mm from the top, left of the window
FIRST_FRAME_TOP = 205 * mm              # body from 92 mm from the top on page 1
NEXT_FRAME_TOP = 267 * mm
FRAME_BOTTOM = 24 * mm
FOOTER_Y = 13 * mm


# ------------------------------------------------------------------ jinja2

def _finalize(value):
    # one value never spans lines: a stray newline in data cannot change the layout
    if isinstance(value, str):
        return value.replace("\r", " ").replace("\n", " ")
    return value


def _make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,  # the templates render XML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        finalize=_finalize,
    )
    env.filters.update(formatting.FILTERS)
    env.tests.update(formatting.TESTS)
    return env


environment = _make_environment()


def render_layout(template_name: str, context: dict) -> str:
    """Render a template to its XML layout (useful to debug a document)."""
    return environment.get_template(template_name).render(**context)


# ------------------------------------------------------------------- text

# the width of a word in a font and size: a pure function of the three, and
# most words of a document (its fixed wording) are the same in every copy
_width = functools.lru_cache(maxsize=8192)(pdfmetrics.stringWidth)


def _runs(element, font: str, out: list | None = None) -> list:
    """Inline markup -> [(text, font)], "\\n" for <br/>; whitespace folded."""
    if out is None:
        out = []
    bold, italic = _TRAITS.get(font, (False, False))
    if element.text:
        out.append((element.text, font))
    for child in element:
        tag = child.tag
        if tag == "br":
            out.append(("\n", font))
        elif tag in ("b", "strong"):
            _runs(child, _FAMILY[(True, italic)], out)
        elif tag in ("i", "em"):
            _runs(child, _FAMILY[(bold, True)], out)
        else:
            raise ValueError(f"layout: unknown inline element <{tag}>")
        if child.tail:
            out.append((child.tail, font))
    return out


def _words(runs: list) -> list:
    """[(text, font)] -> words, each a list of (text, font) pieces; None = forced
    line break. Only plain spaces separate words (no-break spaces do not)."""
    words: list = []
    current: list = []
    for text, font in runs:
        if text == "\n":
            if current:
                words.append(current)
                current = []
            words.append(None)
            continue
        parts = text.replace("\t", " ").replace("\n", " ").replace("\r", " ").split(" ")
        for index, part in enumerate(parts):
            if index > 0 and current:
                words.append(current)
                current = []
            if part:
                current.append((part, font))
    if current:
        words.append(current)
    return words


def _wrap(runs: list, width: float, size: float) -> list:
    """Greedy line breaking: -> lines, each [(text, font, width)] with the
    spaces included in the text."""
    lines = []
    line: list = []
    line_width = 0.0
    space = _width(" ", "Doc", size)
    for word in _words(runs):
        if word is None:
            lines.append(line)
            line, line_width = [], 0.0
            continue
        pieces = [(text, font, _width(text, font, size)) for text, font in word]
        word_width = sum(p[2] for p in pieces)
        if line and line_width + space + word_width > width:
            lines.append(line)
            line, line_width = [], 0.0
        if line:
            text, font, w = line[-1]
            line[-1] = (text + " ", font, w + space)
            line_width += space
        for piece in pieces:
            if line and line[-1][1] == piece[1]:
                text, font, w = line[-1]
                line[-1] = (text + piece[0], font, w + piece[2])
            else:
                line.append(piece)
        line_width += word_width
    if line or not lines:
        lines.append(line)
    return lines


def _line_width(line) -> float:
    return sum(piece[2] for piece in line)


def _draw_lines(canvas, lines, x: float, top: float, width: float, size: float,
                leading: float, color, align: str = "left") -> None:
    text = canvas.beginText()
    text.setFillColor(color)
    y = top - size
    for line in lines:
        offset = width - _line_width(line) if align == "right" else 0
        text.setTextOrigin(x + offset, y)
        for piece_text, font, _ in line:
            text.setFont(font, size, leading)
            text.textOut(piece_text)
        y -= leading
    canvas.drawText(text)


def _inline(element, style_font: str) -> list:
    children = list(element)
    if len(children) == 1 and children[0].tag == "para" and not (element.text or "").strip():
        return _runs(children[0], style_font)
    return _runs(element, style_font)


def _plain(element) -> str:
    return " ".join("".join(element.itertext()).split())


# ----------------------------------------------------------------- blocks

class _Para:
    def __init__(self, element, style: ParaStyle, bullet: str | None = None):
        self.style = style
        self.bullet = bullet
        self.width = RIGHT - LEFT - style.left_indent
        self.lines = _wrap(_runs(element, style.font), self.width, style.size)

    def draw_lines(self, canvas, lines, top):
        s = self.style
        _draw_lines(canvas, lines, LEFT + s.left_indent, top, self.width, s.size, s.leading,
                    s.color, s.align)


class _Table:
    def __init__(self, element):
        name = element.get("style")
        try:
            self.style = TABLE_STYLES[name]
        except KeyError:
            raise ValueError(f"layout: unknown table style {name!r}") from None
        rows = element.findall("tr")
        if not rows:
            raise ValueError("layout: empty <table>")
        widths = element.get("widths")
        columns = max(len(tr) for tr in rows)
        self.widths = ([float(w) * mm for w in widths.split(",")] if widths
                       else [(RIGHT - LEFT) / columns] * columns)
        self.repeat = element.get("repeat") == "1"
        top, bottom, left, right = self.style.padding
        self.rows = []  # (kind, height, [(lines, CellStyle)])
        for index, tr in enumerate(rows):
            kind = ("header" if index == 0 and self.style.header else
                    "total" if index == len(rows) - 1 and self.style.total else "body")
            cells = []
            height = 0.0
            for column, td in enumerate(tr):
                cell = self.style.cell(kind, column)
                span = int(td.get("span", "1"))
                width = sum(self.widths[column:column + span]) - left - right
                lines = _wrap(_inline(td, cell.font), width, cell.size)
                if not any(lines):
                    lines = []
                cells.append((lines, cell))
                height = max(height, len(lines) * cell.size * 1.25)
            self.rows.append((kind, height + top + bottom, cells))

    def draw_row(self, canvas, row, top, body_index):
        kind, height, cells = row
        style = self.style
        pad_top, pad_bottom, pad_left, pad_right = style.padding
        total_width = sum(self.widths)
        background = (style.header_background if kind == "header"
                      else style.background or (style.stripes[body_index % len(style.stripes)]
                                                if style.stripes and kind == "body" else None))
        if background is not None:
            canvas.setFillColor(background)
            canvas.rect(LEFT, top - height, total_width, height, stroke=0, fill=1)
        x = LEFT
        for (lines, cell), width in zip(cells, self.widths):
            if lines:
                leading = cell.size * 1.25
                block = len(lines) * leading
                cell_top = top - pad_top - (height - pad_top - pad_bottom - block) / 2
                _draw_lines(canvas, lines, x + pad_left, cell_top + (leading - cell.size) / 2,
                            width - pad_left - pad_right, cell.size, leading, cell.color,
                            cell.align)
            x += width
        if kind == "total" and style.total_rule:
            canvas.setStrokeColor(style.total_rule[0])
            canvas.setLineWidth(style.total_rule[1])
            canvas.line(LEFT, top, LEFT + total_width, top)
        elif kind == "body" and style.rule:
            canvas.setStrokeColor(style.rule[0])
            canvas.setLineWidth(style.rule[1])
            canvas.line(LEFT, top - height, LEFT + total_width, top - height)
        if style.box:
            canvas.setStrokeColor(style.box[0])
            canvas.setLineWidth(style.box[1])
            canvas.rect(LEFT, top - height, total_width, height, stroke=1, fill=0)


class _Spacer:
    def __init__(self, height: float):
        self.height = height


def _blocks(body) -> list:
    blocks = []
    for element in body:
        tag = element.tag
        if tag == "para":
            name = element.get("style") or "normal"
            try:
                style = PARA_STYLES[name]
            except KeyError:
                raise ValueError(f"layout: unknown paragraph style {name!r}") from None
            blocks.append(_Para(element, style))
        elif tag == "bullet":
            blocks.append(_Para(element, PARA_STYLES["bullet"], element.get("mark", "•")))
        elif tag == "spacer":
            blocks.append(_Spacer(float(element.get("height", "6"))))
        elif tag == "table":
            blocks.append(_Table(element))
        else:
            raise ValueError(f"layout: unknown element <{tag}>")
    return blocks


# ------------------------------------------------------------------ pages

class _Furniture:
    """What is drawn around the body: letterhead, address, QR code, file
    number, footer (the page label is drawn by the canvas at the end)."""

    def __init__(self, root):
        head = root.find("letterhead")
        self.fund_name = head.get("name", "") if head is not None else ""
        self.fund_lines = [_plain(line) for line in head] if head is not None else []
        self.file_number = _plain(root.find("file-number"))
        self.page_label = _plain(root.find("page-label"))
        self.footer = _plain(root.find("footer"))
        self.title = root.get("title", "")
        address = root.find("address")
        self.address = None
        if address is not None:
            style = PARA_STYLES["address"]
            runs = [(_plain(address.find("name")), "Doc-Bold")]
            for line in address.findall("line"):
                runs += [("\n", "Doc"), (_plain(line), "Doc")]
            self.address = _wrap(runs, ADDRESS_BOX[2], style.size)
        verification = root.find("verification")
        self.verification = None
        if verification is not None:
            style = PARA_STYLES["verification"]
            runs = []
            for line in verification.findall("line"):
                if runs:
                    runs.append(("\n", "Doc"))
                runs += _runs(line, style.font)
            width = ADDRESS_BOX[0] - (QR_BOX[0] + QR_BOX[2] + 3 * mm) - 3 * mm
            self.verification = (verification.get("url"), _wrap(runs, width, style.size))

    def _top_right(self, canvas):
        canvas.setFont("Doc-Bold", 9.5)
        canvas.setFillColor(colors.black)
        canvas.drawRightString(RIGHT, FILE_NUMBER_Y, self.file_number)

    def _footer(self, canvas):
        canvas.setStrokeColor(colors.HexColor("#bfbfbf"))
        canvas.setLineWidth(0.5)
        canvas.line(LEFT, 18 * mm, RIGHT, 18 * mm)
        canvas.setFont("Doc", 7.5)
        canvas.setFillColor(LIGHT)
        canvas.drawString(LEFT, FOOTER_Y, self.footer)

    def first_page(self, canvas):
        canvas.setFont("Doc-Bold", 20)
        canvas.setFillColor(BLUE)
        canvas.drawString(LEFT, 268 * mm, self.fund_name)
        text = canvas.beginText(LEFT, 262 * mm)
        text.setFont("Doc", 7, 3.2 * mm)
        text.setFillColor(GREY)
        for line in self.fund_lines:
            text.textLine(line)
        canvas.drawText(text)
        self._top_right(canvas)
        # fold marks for a tri-fold into a DL envelope
        canvas.setStrokeColor(colors.HexColor("#a0a0a0"))
        canvas.setLineWidth(0.4)
        canvas.line(5 * mm, 198 * mm, 9 * mm, 198 * mm)
        canvas.line(5 * mm, 99 * mm, 9 * mm, 99 * mm)
        if self.address is not None:
            style = PARA_STYLES["address"]
            x, y, w, h = ADDRESS_BOX
            _draw_lines(canvas, self.address, x, y + h, w, style.size, style.leading, style.color)
        if self.verification is not None:
            url, lines = self.verification
            x, y, size = QR_BOX
            draw_qr(canvas, url, x, y, size)
            style = PARA_STYLES["verification"]
            _draw_lines(canvas, lines, x + size + 3 * mm, y + size - 1, 0, style.size,
                        style.leading, style.color)
        self._footer(canvas)

    def next_page(self, canvas):
        canvas.setFont("Doc-Bold", 11)
        canvas.setFillColor(BLUE)
        canvas.drawString(LEFT, 279 * mm, self.fund_name)
        canvas.setFont("Doc", 8)
        canvas.setFillColor(GREY)
        canvas.drawString(LEFT, 275 * mm, self.title)
        self._top_right(canvas)
        canvas.setStrokeColor(BLUE)
        canvas.setLineWidth(0.6)
        canvas.line(LEFT, 272 * mm, RIGHT, 272 * mm)
        self._footer(canvas)


class _Flow:
    """Places blocks top-down, starting new pages as needed."""

    def __init__(self, canvas, furniture: _Furniture):
        self.canvas = canvas
        self.furniture = furniture
        furniture.first_page(canvas)
        self.top = self.y = FIRST_FRAME_TOP

    def new_page(self):
        self.canvas.showPage()
        self.furniture.next_page(self.canvas)
        self.top = self.y = NEXT_FRAME_TOP

    def room(self) -> float:
        return self.y - FRAME_BOTTOM

    def at_top(self) -> bool:
        return self.y == self.top

    def place(self, blocks: list) -> None:
        for index, block in enumerate(blocks):
            if isinstance(block, _Spacer):
                if not self.at_top():
                    self.y -= min(block.height, self.room())
            elif isinstance(block, _Para):
                following = blocks[index + 1] if index + 1 < len(blocks) else None
                self._para(block, following)
            else:
                self._table(block)

    def _para(self, para: _Para, following) -> None:
        s = para.style
        if not self.at_top():
            self.y -= s.space_before
        need = s.leading
        if s.keep_with_next and following is not None:
            need = len(para.lines) * s.leading + _first_height(following)
        if need > self.room() and not self.at_top():
            self.new_page()
        lines = para.lines
        first = True
        while lines:
            fit = max(1, int((self.room() + 0.01) // s.leading))
            chunk, lines = lines[:fit], lines[fit:]
            if para.bullet and first:
                self.canvas.setFont(s.font, s.size)
                self.canvas.setFillColor(s.color)
                self.canvas.drawString(LEFT + s.bullet_indent, self.y - s.size, para.bullet)
            para.draw_lines(self.canvas, chunk, self.y)
            self.y -= len(chunk) * s.leading
            first = False
            if lines:
                self.new_page()
        self.y -= min(s.space_after, max(self.room(), 0))

    def _table(self, table: _Table) -> None:
        header = table.rows[0] if table.repeat and table.rows[0][0] == "header" else None
        body_index = 0
        for position, row in enumerate(table.rows):
            if row[1] > self.room() and not self.at_top():
                self.new_page()
                if header is not None and position > 0:
                    table.draw_row(self.canvas, header, self.y, 0)
                    self.y -= header[1]
            table.draw_row(self.canvas, row, self.y, body_index)
            self.y -= row[1]
            if row[0] == "body":
                body_index += 1


def _first_height(block) -> float:
    if isinstance(block, _Para):
        return block.style.space_before + block.style.leading
    if isinstance(block, _Table):
        return sum(row[1] for row in block.rows[:2])
    return 0.0


# --------------------------------------------------------------- QR code

QR_MASK_PATTERN = 2

# The Reed-Solomon generator polynomial only depends on the number of error
# correction codewords: computing it is most of an encoding's time. QRPolynomial
# objects are not mutated by the encoder (multiply/mod return new ones).
if not hasattr(qrencoder.QRUtil.getErrorCorrectPolynomial, "cache_info"):
    qrencoder.QRUtil.getErrorCorrectPolynomial = staticmethod(
        functools.lru_cache(maxsize=64)(qrencoder.QRUtil.getErrorCorrectPolynomial))


@functools.lru_cache(maxsize=64)
def _generator_logs(ec_count: int) -> tuple:
    """log of each coefficient of the RS generator polynomial (after the leading 1)."""
    numbers = qrencoder.QRUtil.getErrorCorrectPolynomial(ec_count).num
    return tuple(qrencoder.LOG_TABLE[n] if n else None for n in numbers[1:])


@functools.lru_cache(maxsize=64)
def _generator_products(ec_count: int) -> tuple:
    """factor -> the RS generator polynomial (after its leading 1) times
    ``factor`` in GF(256): one table per number of correction codewords."""
    exp, log = qrencoder.EXP_TABLE, qrencoder.LOG_TABLE
    generator = _generator_logs(ec_count)
    table = [()]
    for factor in range(1, 256):
        log_factor = log[factor]
        table.append(tuple(0 if g is None else exp[(g + log_factor) % 255] for g in generator))
    return tuple(table)


def _rs_remainder(data, ec_count: int) -> list:
    """Reed-Solomon error correction codewords of ``data`` (polynomial long
    division in GF(256), as an LFSR: same result as QRPolynomial.mod)."""
    products = _generator_products(ec_count)
    remainder = [0] * ec_count
    for byte in data:
        factor = byte ^ remainder[0]
        del remainder[0]
        remainder.append(0)
        if factor:
            remainder = [r ^ p for r, p in zip(remainder, products[factor])]
    return remainder


class _BitBuffer:
    """The bits of a QR code's data in one integer: reportlab's QRBitBuffer
    appends them one at a time to a list (same bits, same ``put`` API)."""

    def __init__(self):
        self.value = 0
        self.length = 0

    def put(self, num: int, length: int) -> None:
        self.value = (self.value << length) | (num & ((1 << length) - 1))
        self.length += length

    def putBit(self, bit) -> None:  # noqa: N802 (reportlab's name)
        self.put(1 if bit else 0, 1)

    def getLengthInBits(self) -> int:  # noqa: N802
        return self.length

    def codewords(self) -> list[int]:
        return list(self.value.to_bytes(self.length // 8, "big"))


def _qr_codewords(version: int, level: int, data_list: list) -> list:
    """Data and error correction codewords, interleaved: what
    ``qrencoder.QRCode.createData`` returns (same terminator, byte padding and
    0xEC/0x11 pad bytes), with a fast bit buffer and Reed-Solomon step."""
    rs_blocks = qrencoder.QRRSBlock.getRSBlocks(version, level)
    buffer = _BitBuffer()
    for data in data_list:
        data.write(buffer, version)
    capacity = 8 * sum(block.dataCount for block in rs_blocks)
    if buffer.length > capacity:
        raise Exception("code length overflow. (%d > %d)" % (buffer.length, capacity))
    if buffer.length + 4 <= capacity:
        buffer.put(0, 4)
    buffer.put(0, -buffer.length % 8)
    for index in range((capacity - buffer.length) // 8):
        buffer.put(qrencoder.QRCode.PAD1 if index % 2 else qrencoder.QRCode.PAD0, 8)
    codewords = buffer.codewords()
    offset = 0
    dcdata, ecdata = [], []
    for block in rs_blocks:
        dc_count = block.dataCount
        ec_count = block.totalCount - dc_count
        data = codewords[offset:offset + dc_count]
        offset += dc_count
        dcdata.append(data)
        ecdata.append(_rs_remainder(data, ec_count))
    return [d for dd in itertools.chain(itertools.zip_longest(*dcdata),
                                        itertools.zip_longest(*ecdata))
            for d in dd if d is not None]


@functools.lru_cache(maxsize=16)
def _qr_skeleton(version: int) -> tuple:
    """What every QR code of ``version`` shares (error correction M, mask
    QR_MASK_PATTERN): the modules with the finder, alignment and timing
    patterns, the format and version information, and every data module set
    to its mask bit (the value of a light data module); and the data module
    positions in placement order, (column, row).

    Why: placing the data bits one by one through reportlab's iterator, mask
    function and pattern setup was most of a QR code's time; with this, a code
    only flips the positions of its dark bits (same modules as ``makeImpl``:
    a dark module is its bit XOR its mask bit)."""
    qr = qrencoder.QRCode(version, qrencoder.QRErrorCorrectLevel.M)
    count = qr.moduleCount = version * 4 + 17
    qr.modules = [[False] * count for _ in range(count)]
    qr.setupPositionProbePattern(0, 0)
    qr.setupPositionProbePattern(count - 7, 0)
    qr.setupPositionProbePattern(0, count - 7)
    qr.setupPositionAdjustPattern()
    qr.setupTimingPattern()
    qr.setupTypeInfo(False, QR_MASK_PATTERN)
    if version >= 7:
        qr.setupTypeNumber(False)
    positions = tuple(qr.dataPosIterator())
    mask = qrencoder.QRUtil.getMask(QR_MASK_PATTERN)
    for col, row in positions:
        qr.modules[row][col] = bool(mask(row, col))
    return tuple(tuple(row) for row in qr.modules), positions


_BITS = (0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01)


def qr_matrix(value: str) -> list[list[bool]]:
    """The modules of the QR code of ``value`` (error correction M), row by row.

    The mask pattern is fixed (any of the 8 is valid; scoring all of them, as
    ``QRCode.make`` does, costs several milliseconds)."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(value)
    version = qr.calculate_version()
    data = _qr_codewords(version, qr.errorCorrectLevel, qr.dataList)
    skeleton, positions = _qr_skeleton(version)
    modules = [list(row) for row in skeleton]
    index = 0
    for byte in data:
        if byte:
            for offset, bit in enumerate(_BITS):
                if byte & bit:
                    col, row = positions[index + offset]
                    modules[row][col] = not modules[row][col]
        index += 8
    return modules


# a module (False / True as a byte) -> its grey level: light is white, dark black
_QR_GREY = bytes([255, 0]) + bytes(254)


def draw_qr(canvas, value: str, x: float, y: float, size: float) -> None:
    """A QR code with a quiet zone of 2 modules, drawn as a tiny greyscale image
    (much cheaper to write than hundreds of rectangles; PDF images are not
    interpolated, so the modules stay sharp at any zoom)."""
    modules = qr_matrix(value)
    border = 2
    count = len(modules) + 2 * border
    blank = b"\xff" * count
    rows = [blank] * border
    margin = b"\xff" * border
    for row in modules:
        rows.append(margin + bytes(row).translate(_QR_GREY) + margin)
    rows.extend([blank] * border)
    image = Image.frombytes("L", (count, count), b"".join(rows))
    canvas.drawImage(ImageReader(image), x, y, size, size)


# ---------------------------------------------------------------- canvas

class _NumberedCanvas(Canvas):
    """A canvas that keeps its pages until save() to print "Page n / N" on each
    (one layout pass, whatever the number of pages)."""

    def __init__(self, output, page_label: str, **kwargs):
        super().__init__(output, initialFontName="Doc", **kwargs)
        self._page_label = page_label
        self._pages = []
        _seed_fonts(self._doc)

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        self._pages.append(dict(self.__dict__))
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont("Doc", 7.5)
            self.setFillColor(LIGHT)
            self.drawRightString(RIGHT, FOOTER_Y, self._page_label
                                 .replace("{page}", str(number)).replace("{pages}", str(total)))
            Canvas.showPage(self)
        Canvas.save(self)


def layout_to_pdf(layout: str) -> bytes:
    """Lay out an XML layout (see the module docstring) and return the PDF."""
    try:
        root = ET.fromstring(layout)
    except ET.ParseError as exc:
        raise ValueError(f"layout: malformed XML ({exc})") from None
    body = root.find("body")
    if body is None or root.find("file-number") is None or root.find("page-label") is None:
        raise ValueError("layout: <body>, <file-number> and <page-label> are required")
    furniture = _Furniture(root)
    blocks = _blocks(body)
    output = io.BytesIO()
    canvas = _NumberedCanvas(output, furniture.page_label, pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
                             invariant=1, pageCompression=1)
    canvas.setTitle(furniture.title)
    canvas.setAuthor(root.get("author", ""))
    canvas.setCreator(root.get("author", ""))
    _Flow(canvas, furniture).place(blocks)
    canvas.save()
    return output.getvalue()


def render_pdf(template_name: str, context: dict) -> bytes:
    """Render a template and lay it out: PDF bytes."""
    return layout_to_pdf(render_layout(template_name, context))
