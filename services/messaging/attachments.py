"""Attachments of a message: what a member (or an advisor) may send, made safe.

Plain Python (no nameko, no database). :func:`check_message` takes the files of
one message as ``(filename, bytes)`` and either returns them cleaned, or raises
:class:`AttachmentsRefused` with one French sentence per problem, each naming
the file and the reason. Nothing is kept from a refused message.

Rules, in order:

- count and sizes: at most ``max_count`` files, ``max_file_bytes`` each and
  ``max_message_bytes`` together (as sent, before any conversion);
- the type comes from the content (magic bytes), never from the name: PDF,
  JPEG, PNG, and HEIC/HEIF (iPhone photos), which is converted to JPEG; a
  ``.pdf`` name on a JPEG is a JPEG (and the stored name says ``.jpg``);
- polyglots refused: a file that is also another kind of file (a PDF header
  inside an image, a ZIP archive appended, HTML or script markup, data after a
  PDF's last ``%%EOF``);
- images: the pixel count is checked before decoding (decompression bombs,
  Pillow's ``DecompressionBombError``/warning turned into a refusal), then the
  picture is re-encoded from its pixels alone: EXIF (GPS included), XMP, text
  chunks and ICC profiles are gone; the EXIF orientation is applied first so
  the photo stays upright;
- PDFs: parsed with pypdf (object streams and ``#xx`` name escapes resolved)
  and refused when they carry JavaScript, a launch action or embedded files;
  an encrypted PDF cannot be inspected, so it is refused too;
- a virus scan through clamd's INSTREAM protocol when an address is set
  (:class:`ClamdScanner`); a scanner that does not answer refuses the message
  (fail closed) with a "try again later" sentence.
"""
from __future__ import annotations

import hashlib
import io
import re
import socket
import struct
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

try:  # HEIC/HEIF (iPhone photos)
    import pillow_heif
    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIF_SUPPORTED = False

PDF, JPEG, PNG, HEIF = "application/pdf", "image/jpeg", "image/png", "image/heif"
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png"}
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
               b"heif", b"avci"}
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Defaults documented in ``carpimko/config.py`` (CARPIMKO_ATTACHMENT_*)."""

    max_file_bytes: int = 10 * MB
    max_message_bytes: int = 20 * MB
    max_count: int = 5
    max_pixels: int = 40_000_000

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(
            max_file_bytes=int(float(config.get("ATTACHMENT_MAX_FILE_MB", 10)) * MB),
            max_message_bytes=int(float(config.get("ATTACHMENT_MAX_MESSAGE_MB", 20)) * MB),
            max_count=int(config.get("ATTACHMENT_MAX_COUNT", 5)),
            max_pixels=int(config.get("ATTACHMENT_MAX_PIXELS", 40_000_000)))


@dataclass(frozen=True)
class CleanFile:
    """A file as it will be stored: the cleaned content, its real type, the
    name shown to people (extension fixed to the real type)."""

    filename: str
    media_type: str
    content: bytes
    original_size: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class AttachmentsRefused(Exception):
    """One or more files cannot be accepted; ``problems`` are French sentences."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class _Refused(Exception):
    pass


class ScannerUnavailable(Exception):
    """The virus scanner did not answer: refuse for now, the member retries."""


# -- names ---------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")


def display_name(filename: str) -> str:
    """The name shown to people: no folders, no control or reserved characters,
    at most 120 characters. Never used as a path."""
    name = PureWindowsPath(PurePosixPath(str(filename or "")).name).name
    name = unicodedata.normalize("NFC", _CONTROL.sub("_", name)).strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 115 - len(ext)] + "." + ext) if dot and len(ext) <= 5 else name[:120]
    return name or "piece-jointe"


def _with_extension(name: str, media_type: str) -> str:
    ext = EXTENSIONS[media_type]
    stem, dot, current = name.rpartition(".")
    if dot and current.lower() in ("pdf", "jpg", "jpeg", "png", "heic", "heif"):
        name = stem
    return f"{name}.{ext}"


# -- type by content --------------------------------------------------------------------------
def sniff(data: bytes) -> str | None:
    """The media type from the first bytes, or None when not one we accept."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return HEIF
    return None


_MARKUP = re.compile(rb"<\s*(?:script|html|body|iframe|svg|\?php)\b", re.IGNORECASE)


def _polyglot_reason(data: bytes, media_type: str) -> str | None:
    if media_type != PDF and b"%PDF-" in data:
        return "il contient aussi un document PDF"
    # a ZIP archive (JAR, DOCX...) is read from its end: its end-of-directory record
    if b"PK\x05\x06" in data[-(65536 + 22):]:
        return "il contient aussi une archive ZIP"
    if _MARKUP.search(data):
        return "il contient du code HTML ou un script"
    if media_type == PDF:
        end = data.rfind(b"%%EOF")
        if end == -1:
            return None  # pypdf decides whether it is a PDF at all
        if len(data[end + 5:].strip(b"\r\n\t \x00")) > 0:
            return "des données sont cachées après la fin du document PDF"
    return None


# -- images --------------------------------------------------------------------------------
def _clean_image(data: bytes, media_type: str, limits: Limits) -> tuple[bytes, str]:
    """Re-encode from pixels only; HEIF becomes JPEG. Returns (content, media type)."""
    previous = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = limits.max_pixels
            try:
                image = Image.open(io.BytesIO(data))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _Refused("l'image est démesurée (trop de pixels)") from None
            width, height = image.size
            if width * height > limits.max_pixels:
                raise _Refused("l'image est démesurée (trop de pixels)")
            expected = {JPEG: "JPEG", PNG: "PNG", HEIF: "HEIF"}[media_type]
            if image.format != expected:
                raise _Refused("son contenu ne correspond pas à une image valide")
            try:
                image.load()
                image = ImageOps.exif_transpose(image)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _Refused("l'image est démesurée (trop de pixels)") from None
    except _Refused:
        raise
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _Refused("l'image est illisible ou abîmée") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    # rebuild from the pixels: nothing of the original's metadata travels
    out_type = PNG if media_type == PNG else JPEG
    if out_type == JPEG:
        pixels = image.convert("RGB")
    else:
        pixels = image if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA") else image.convert("RGBA")
    clean = Image.new(pixels.mode, pixels.size)
    if pixels.mode == "P":
        clean.putpalette(pixels.getpalette())
    clean.paste(pixels)
    buffer = io.BytesIO()
    if out_type == JPEG:
        clean.save(buffer, "JPEG", quality=90, optimize=True)
    else:
        clean.save(buffer, "PNG", optimize=True)
    return buffer.getvalue(), out_type


# -- PDFs ------------------------------------------------------------------------------------
# long names only: a three-byte "/JS" occurs by chance in compressed streams (pypdf finds it)
_RAW_ACTIVE = re.compile(rb"/(JavaScript|Launch|EmbeddedFiles?|RichMedia)\b")


def _pdf_reason(data: bytes) -> str | None:
    """Why this PDF is refused, or None. Checks the raw bytes, then every
    object reachable from the trailer as pypdf resolves it (compressed object
    streams and ``#xx``-escaped names included)."""
    raw = _RAW_ACTIVE.search(data)
    if raw:
        return _PDF_REASONS[raw.group(1).decode()]
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return "il est protégé par un mot de passe et ne peut pas être vérifié"
        if len(reader.pages) == 0:
            return "il ne contient aucune page"
        return _walk(reader.trailer)
    except PdfReadError:
        return "ce n'est pas un document PDF valide"
    except Exception:  # noqa: BLE001 - a malformed PDF can raise anything inside pypdf
        return "ce n'est pas un document PDF valide"


_PDF_REASONS = {
    "JavaScript": "il contient du JavaScript",
    "JS": "il contient du JavaScript",
    "Launch": "il peut lancer un programme (action « Launch »)",
    "EmbeddedFile": "il contient des fichiers intégrés",
    "EmbeddedFiles": "il contient des fichiers intégrés",
    "RichMedia": "il contient un contenu multimédia actif",
}


def _walk(root, limit: int = 200_000) -> str | None:
    seen: set[tuple[int, int]] = set()
    stack = [root]
    visited = 0
    while stack:
        node = stack.pop()
        visited += 1
        if visited > limit:
            return "il est trop complexe pour être vérifié"
        if isinstance(node, IndirectObject):
            key = (node.idnum, node.generation)
            if key in seen:
                continue
            seen.add(key)
            node = node.get_object()
        if isinstance(node, DictionaryObject):
            for key, value in node.items():
                name = str(key).lstrip("/")
                if name in _PDF_REASONS:
                    return _PDF_REASONS[name]
                if name in ("S", "Type", "Subtype"):
                    target = str(value.get_object() if isinstance(value, IndirectObject)
                                 else value).lstrip("/")
                    if target in _PDF_REASONS:
                        return _PDF_REASONS[target]
                stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    return None


# -- virus scan (clamd INSTREAM) ---------------------------------------------------------------
class ClamdScanner:
    """clamd's INSTREAM command: ``zINSTREAM\\0``, then chunks each prefixed by
    their length (4 bytes, big-endian), then a zero length; the answer is
    ``stream: OK`` or ``stream: <signature> FOUND``. ``address`` is
    ``host:port`` or the path of clamd's unix socket."""

    CHUNK = 64 * 1024

    def __init__(self, address: str, timeout: float = 30):
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        if self.address.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            sock.connect(self.address)
            return sock
        host, _, port = self.address.rpartition(":")
        return socket.create_connection((host or "127.0.0.1", int(port)), timeout=self.timeout)

    def scan(self, data: bytes) -> str | None:
        """The signature found, or None when clean. Raises ScannerUnavailable."""
        try:
            with self._connect() as sock:
                sock.sendall(b"zINSTREAM\0")
                for start in range(0, len(data), self.CHUNK):
                    chunk = data[start:start + self.CHUNK]
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
                reply = b""
                while not reply.endswith(b"\0"):
                    part = sock.recv(4096)
                    if not part:
                        break
                    reply += part
        except (OSError, ValueError) as exc:
            raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from None
        answer = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
        if answer.endswith("OK"):
            return None
        if answer.endswith("FOUND"):
            return answer.split(":", 1)[-1].rsplit(" ", 1)[0].strip() or "inconnu"
        raise ScannerUnavailable(f"clamd at {self.address} answered {answer!r}")


# -- one message ------------------------------------------------------------------------------
def _size(n: int) -> str:
    return f"{n / MB:.0f} Mo" if n >= MB else f"{max(1, round(n / 1024))} Ko"


def clean_file(filename: str, data: bytes, limits: Limits) -> CleanFile:
    """One file, cleaned; raises _Refused with the reason (French)."""
    if not data:
        raise _Refused("le fichier est vide")
    if len(data) > limits.max_file_bytes:
        raise _Refused(f"il dépasse la taille maximale de {_size(limits.max_file_bytes)} "
                       f"par fichier ({_size(len(data))})")
    media_type = sniff(data)
    if media_type is None:
        raise _Refused("ce n'est ni un PDF, ni une image JPEG, PNG ou HEIC "
                       "(le type est reconnu par le contenu, pas par le nom)")
    if media_type == HEIF and not HEIF_SUPPORTED:  # pragma: no cover
        raise _Refused("les photos HEIC ne peuvent pas être lues pour le moment")
    reason = _polyglot_reason(data, media_type)
    if reason:
        raise _Refused(f"{reason} (fichier à double nature)")
    name = display_name(filename)
    if media_type == PDF:
        reason = _pdf_reason(data)
        if reason:
            raise _Refused(reason)
        return CleanFile(_with_extension(name, PDF), PDF, data, len(data))
    content, out_type = _clean_image(data, media_type, limits)
    return CleanFile(_with_extension(name, out_type), out_type, content, len(data))


def check_message(files: list[tuple[str, bytes]], limits: Limits = Limits(),
                  scanner: ClamdScanner | None = None) -> list[CleanFile]:
    """Every file of a message cleaned, or AttachmentsRefused listing each problem."""
    problems: list[str] = []
    if len(files) > limits.max_count:
        problems.append(f"Vous avez joint {len(files)} fichiers : {limits.max_count} au maximum "
                        "par message.")
    total = sum(len(data) for _, data in files)
    if total > limits.max_message_bytes:
        problems.append(f"Les fichiers joints font {_size(total)} ensemble : "
                        f"{_size(limits.max_message_bytes)} au maximum par message.")
    if problems:
        raise AttachmentsRefused(problems)
    cleaned = []
    for filename, data in files:
        shown = display_name(filename)
        try:
            if scanner is not None:
                try:
                    signature = scanner.scan(data)
                except ScannerUnavailable:
                    raise _Refused("l'analyse antivirus est momentanément indisponible, "
                                   "réessayez dans quelques minutes") from None
                if signature:
                    raise _Refused(f"un virus a été détecté ({signature})")
            cleaned.append(clean_file(filename, data, limits))
        except _Refused as exc:
            problems.append(f"« {shown} » est refusé : {exc}.")
    if problems:
        raise AttachmentsRefused(problems)
    return cleaned
