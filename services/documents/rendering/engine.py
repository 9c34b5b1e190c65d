"""jinja2 -> RML -> PDF.

Templates live in services/documents/templates/ and produce RML (ReportLab
Markup Language), which z3c.rml lays out with ReportLab. The jinja2
environment autoescapes everything (the output is XML) and is strict about
undefined variables, so that a typo in a template fails loudly.

Speed. A plain z3c.rml build spends most of its time parsing TrueType files:
`Document.process()` calls `reportlab.rl_config._reset()`, whose registered
callbacks (reportlab.graphics.testshapes and z3c.rml.rlfix) re-parse the four
Vera fonts on every document, and each `<registerTTFont>` parses its file
again. For the fund's documents (about 60 ms -> about 20 ms each) this module:

* takes the `<registerTTFont>` declarations out of the template's `<docinit>`
  and registers TTFont objects parsed once per process (a TTFont keeps its
  per-document subsetting state in a WeakKeyDictionary keyed by document, so
  one object serves any number of documents);
* while one of our documents is built, runs every reportlab reset except
  those two font re-registrations (they register fonts named "Vera",
  "VeraBd"... that our templates do not use), writes binary streams rather
  than ASCII85 ones, and makes the first declared font the canvas' initial
  font, so that no page refers to a non-embedded Helvetica.
Both fall back to plain z3c.rml behaviour if reportlab's internals change.
And a one-page document is laid out once instead of twice (see _process).
"""

from __future__ import annotations

import importlib
import io
import threading
from pathlib import Path

import jinja2
import reportlab.rl_config
from lxml import etree
from reportlab.pdfbase import pdfmetrics, ttfonts
from z3c.rml import document as rml_document

from . import formatting

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# z3c.rml and ReportLab keep process-wide state while building a document
# (rl_config reset, the font registry, the extra colour namespace): build one
# PDF at a time. Under eventlet the lock is green, which is what we want.
_BUILD_LOCK = threading.Lock()

# The RML comes from autoescaped templates, but keep the XML parser locked
# down anyway: no DTD, no network, no external entities.
_XML_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    remove_comments=True,
)

# reset callbacks that only re-register reportlab's demo "Vera*" fonts
_SKIPPED_RESETS = frozenset({
    ("reportlab.graphics.testshapes", "resetFonts"),
    ("z3c.rml.rlfix", "resetFonts"),
})

# <namedString> id holding the number of the last page (see _layout.rml.j2)
PAGE_COUNT_NAME = "lastPage"

_FONT_CACHE: dict[tuple[str, str], ttfonts.TTFont] = {}


def _make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,  # every template renders XML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(formatting.FILTERS)
    env.tests.update(formatting.TESTS)
    return env


environment = _make_environment()


def render_rml(template_name: str, context: dict) -> str:
    """Render a template to an RML string (useful to debug a layout)."""
    return environment.get_template(template_name).render(**context)


def _resolve_font_file(file_name: str) -> str:
    """`[package]/relative/path` (as z3c.rml understands it) or a path
    relative to the templates folder -> absolute path."""
    if file_name.startswith("["):
        package, _, relative = file_name[1:].partition("]/")
        module = importlib.import_module(package)
        for base in module.__path__:
            candidate = Path(base) / relative
            if candidate.exists():
                return str(candidate)
        raise FileNotFoundError(f"font file not found: {file_name}")
    path = Path(file_name)
    if not path.is_absolute():
        path = TEMPLATES_DIR / path
    if not path.exists():
        raise FileNotFoundError(f"font file not found: {file_name}")
    return str(path)


def _cached_font(face_name: str, file_name: str) -> ttfonts.TTFont:
    key = (face_name, file_name)
    font = _FONT_CACHE.get(key)
    if font is None:
        font = ttfonts.TTFont(face_name, _resolve_font_file(file_name))
        _FONT_CACHE[key] = font
    return font


def _take_font_declarations(root) -> list[ttfonts.TTFont]:
    """Remove `<docinit><registerTTFont .../>` from the tree and return the
    matching (cached) fonts."""
    fonts = []
    for element in root.findall("docinit/registerTTFont"):
        face_name = element.get("faceName")
        file_name = element.get("fileName")
        if not face_name or not file_name:
            continue  # let z3c.rml report the malformed directive
        fonts.append(_cached_font(face_name, file_name))
        element.getparent().remove(element)
    return fonts


def _light_reset_for(fonts):
    """A replacement for rl_config._reset that skips the slow demo-font
    re-registrations, then registers our fonts."""
    startup = reportlab.rl_config._startUp
    registered = reportlab.rl_config._registered_resets

    def reset():
        startup()
        for ref in list(registered):
            func = ref()
            if func is None:
                continue
            key = (getattr(func, "__module__", None), getattr(func, "__name__", None))
            if key in _SKIPPED_RESETS:
                continue
            func()
        # binary (zlib only) streams instead of ASCII85 + zlib: smaller
        # files, and no pure-Python base-85 encoding of the font subsets
        reportlab.rl_config.useA85 = 0
        for font in fonts:
            pdfmetrics.registerFont(font)
        if fonts:
            # the canvas' initial font: otherwise every page references a
            # (never used, never embedded) Helvetica
            reportlab.rl_config.canvas_basefontname = fonts[0].fontName

    return reset


def _can_patch_reset() -> bool:
    return all(
        hasattr(reportlab.rl_config, name)
        for name in ("_reset", "_startUp", "_registered_resets")
    )


def rml_to_pdf(rml: str, name: str = "document.rml") -> bytes:
    """Lay out an RML document and return the PDF bytes."""
    root = etree.fromstring(rml.encode("utf-8"), _XML_PARSER)
    output = io.BytesIO()
    with _BUILD_LOCK:
        if _can_patch_reset():
            fonts = _take_font_declarations(root)
            config = reportlab.rl_config
            saved = (config._reset, config.useA85, config.canvas_basefontname)
            config._reset = _light_reset_for(fonts)
            try:
                _process(root, name, output)
            finally:
                config._reset, config.useA85, config.canvas_basefontname = saved
        else:  # pragma: no cover - reportlab internals changed
            _process(root, name, output)
    return output.getvalue()


def _process(root, name: str, output) -> None:
    """Build the document, in one layout pass when it fits on one page.

    The layout prints "Page n / <getName id="lastPage"/>" and records the
    last page number with `<namedString id="lastPage">` at the end of the
    story. Left alone, z3c.rml always lays a document out twice for that
    (the name is unknown while page 1 is drawn). Here the name is seeded
    with a guess ("1"); the build is redone with the real count only when
    the guess was wrong, i.e. only for documents of several pages.
    """
    guess = "1"
    for _ in range(3):
        buffer = io.BytesIO()
        doc = rml_document.Document(root)
        doc.filename = name
        doc.names[PAGE_COUNT_NAME] = guess
        doc.process(buffer)
        actual = doc.names.get(PAGE_COUNT_NAME, guess)
        if actual == guess:
            break
        guess = actual
    output.write(buffer.getvalue())


def render_pdf(template_name: str, context: dict) -> bytes:
    """Render a template and lay it out: PDF bytes."""
    return rml_to_pdf(render_rml(template_name, context), name=template_name)
