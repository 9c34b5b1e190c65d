"""Attachments: every rejection path with its French message, HEIC conversion,
metadata stripping, and the clamd INSTREAM hook against a tiny fake clamd."""
from __future__ import annotations

import io
import socket
import struct
import threading

import pillow_heif
import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from services.messaging import attachments
from services.messaging.attachments import AttachmentsRefused, ClamdScanner, Limits, check_message

GPS_TAG = 0x8825


def jpeg_with_gps(size=(64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 15"  # Model
    exif[0x0112] = 6  # orientation: rotate 90° when shown
    exif[GPS_TAG] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png_bytes(size=(20, 10), text="secret") -> bytes:
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_text("Author", text)
    buffer = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 255, 128)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def heic_bytes(size=(40, 30)) -> bytes:
    image = Image.new("RGB", size, (10, 180, 40))
    exif = Image.Exif()
    exif[GPS_TAG] = {1: "N", 2: (43.0, 17.0, 0.0)}
    exif[0x010F] = "Apple"
    buffer = io.BytesIO()
    image.save(buffer, format="HEIF", exif=exif.tobytes(), quality=80)
    return buffer.getvalue()


def pdf_bytes(extra=None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if extra:
        extra(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def refused(files, limits=Limits(), scanner=None) -> list[str]:
    with pytest.raises(AttachmentsRefused) as caught:
        check_message(files, limits, scanner)
    return caught.value.problems


# -- accepted --------------------------------------------------------------------------------
def test_a_plain_pdf_is_kept_as_sent():
    data = pdf_bytes()
    [clean] = check_message([("arret de travail.pdf", data)])
    assert clean.media_type == "application/pdf" and clean.content == data
    assert clean.filename == "arret de travail.pdf"


def test_jpeg_is_reencoded_without_exif_or_gps_and_stays_upright():
    data = jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_TAG)
    [clean] = check_message([("photo.jpeg", data)])
    image = Image.open(io.BytesIO(clean.content))
    assert image.format == "JPEG" and clean.filename == "photo.jpg"
    assert dict(image.getexif()) == {}
    assert b"Exif" not in clean.content and b"iPhone" not in clean.content
    assert image.size == (48, 64)  # the orientation was applied before stripping


def test_png_text_chunks_are_stripped():
    [clean] = check_message([("scan.png", png_bytes(text="Claire Martin"))])
    image = Image.open(io.BytesIO(clean.content))
    assert image.format == "PNG" and image.size == (20, 10)
    assert b"Claire Martin" not in clean.content and "Author" not in image.info


def test_heic_photo_is_converted_to_jpeg_without_metadata():
    data = heic_bytes()
    assert attachments.sniff(data) == attachments.HEIF
    [clean] = check_message([("IMG_0042.HEIC", data)])
    image = Image.open(io.BytesIO(clean.content))
    assert clean.media_type == "image/jpeg" and image.format == "JPEG"
    assert clean.filename == "IMG_0042.jpg" and image.size == (40, 30)
    assert dict(image.getexif()) == {} and b"Apple" not in clean.content


def test_names_never_carry_folders_or_control_characters():
    assert attachments.display_name("../../etc/passwd") == "passwd"
    assert attachments.display_name("C:\\Users\\x\\a\x00b.pdf") == "a_b.pdf"
    assert attachments.display_name("") == "piece-jointe"


# -- refused, each with its message ---------------------------------------------------------------
def test_wrong_type_renamed_pdf():
    [problem] = refused([("attestation.pdf", b"MZ\x90\x00 this is a windows program")])
    assert problem.startswith("« attestation.pdf » est refusé : ce n'est ni un PDF, ni une image")
    assert "reconnu par le contenu, pas par le nom" in problem


def test_a_jpeg_named_pdf_is_treated_as_the_jpeg_it_is():
    [clean] = check_message([("certificat.pdf", jpeg_with_gps())])
    assert clean.media_type == "image/jpeg" and clean.filename == "certificat.jpg"


def test_polyglot_image_with_a_pdf_inside():
    data = jpeg_with_gps() + pdf_bytes()
    [problem] = refused([("photo.jpg", data)])
    assert problem == ("« photo.jpg » est refusé : il contient aussi un document PDF "
                       "(fichier à double nature).")


def test_polyglot_with_a_zip_appended():
    buffer = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.js", "alert(1)")
    [problem] = refused([("scan.png", png_bytes() + buffer.getvalue())])
    assert "il contient aussi une archive ZIP (fichier à double nature)" in problem
    assert problem.startswith("« scan.png »")


def test_polyglot_with_html():
    [problem] = refused([("x.png", png_bytes() + b"<script>alert(1)</script>")])
    assert "il contient du code HTML ou un script" in problem


def test_pdf_with_data_after_its_end():
    [problem] = refused([("relevé.pdf", pdf_bytes() + b"\x00\x01hidden payload")])
    assert problem == ("« relevé.pdf » est refusé : des données sont cachées après la fin du "
                       "document PDF (fichier à double nature).")


def test_oversized_file():
    limits = Limits(max_file_bytes=1024)
    [problem] = refused([("gros.pdf", pdf_bytes() + b"%" * 2000)], limits)
    assert problem.startswith("« gros.pdf » est refusé : il dépasse la taille maximale de 1 Ko "
                              "par fichier")


def test_oversized_message():
    limits = Limits(max_file_bytes=10_000, max_message_bytes=1_500)
    data = pdf_bytes()
    problems = refused([("a.pdf", data), ("b.pdf", data), ("c.pdf", data), ("d.pdf", data)],
                       limits)
    assert problems[0].startswith("Les fichiers joints font")
    assert problems[0].endswith("au maximum par message.")


def test_too_many_files():
    data = pdf_bytes()
    problems = refused([(f"{i}.pdf", data) for i in range(6)])
    assert problems == ["Vous avez joint 6 fichiers : 5 au maximum par message."]


def test_decompression_bomb_is_refused():
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, "PNG")  # a few KB, 144 million pixels
    data = buffer.getvalue()
    assert len(data) < 100_000
    [problem] = refused([("bombe.png", data)])
    assert problem == "« bombe.png » est refusé : l'image est démesurée (trop de pixels)."


def test_decompression_bomb_through_pillow_error():
    """Even with our own pixel limit lifted, Pillow's DecompressionBombError is a refusal."""
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, "PNG")
    [problem] = refused([("bombe.png", buffer.getvalue())], Limits(max_pixels=20_000_000))
    assert "l'image est démesurée" in problem


def javascript(writer):
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"),
        NameObject("/JS"): TextStringObject("app.alert('hello');")})


def test_pdf_with_javascript():
    data = pdf_bytes(javascript)
    [problem] = refused([("facture.pdf", data)])
    assert problem == "« facture.pdf » est refusé : il contient du JavaScript."


def test_pdf_with_javascript_hidden_by_name_escapes():
    data = pdf_bytes(javascript)
    data = data.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")
    assert b"/JavaScript" not in data and b"/JS " not in data
    [problem] = refused([("facture.pdf", data)])
    assert "JavaScript" in problem


def test_pdf_with_a_launch_action():
    def launch(writer):
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
            NameObject("/S"): NameObject("/Launch"),
            NameObject("/F"): TextStringObject("calc.exe")})
    [problem] = refused([("courrier.pdf", pdf_bytes(launch))])
    assert problem == ("« courrier.pdf » est refusé : il peut lancer un programme "
                       "(action « Launch »).")


def test_pdf_with_an_embedded_file():
    data = pdf_bytes(lambda w: w.add_attachment("payload.exe", b"MZ..."))
    [problem] = refused([("justificatif.pdf", data)])
    assert problem == "« justificatif.pdf » est refusé : il contient des fichiers intégrés."


def test_broken_pdf_and_empty_file():
    problems = refused([("a.pdf", b"%PDF-1.7\nnot really"), ("vide.pdf", b"")])
    assert problems == ["« a.pdf » est refusé : ce n'est pas un document PDF valide.",
                        "« vide.pdf » est refusé : le fichier est vide."]


def test_limits_from_config():
    limits = Limits.from_config({"ATTACHMENT_MAX_FILE_MB": "2", "ATTACHMENT_MAX_COUNT": 3})
    assert limits.max_file_bytes == 2 * 1024 * 1024 and limits.max_count == 3
    assert limits.max_message_bytes == 20 * 1024 * 1024


# -- clamd INSTREAM ---------------------------------------------------------------------------
class FakeClamd:
    """Speaks clamd's INSTREAM: reads the chunks, answers FOUND for EICAR."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _read(self, conn, n):
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise EOFError
            data += part
        return data

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                assert self._read(conn, 10) == b"zINSTREAM\0"
                stream = b""
                while True:
                    (size,) = struct.unpack(">I", self._read(conn, 4))
                    if size == 0:
                        break
                    stream += self._read(conn, size)
                self.received.append(stream)
                found = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in stream
                conn.sendall(b"stream: Eicar-Test-Signature FOUND\0" if found
                             else b"stream: OK\0")

    def close(self):
        self.server.close()


EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def test_clamd_scan_clean_and_infected():
    clamd = FakeClamd()
    try:
        scanner = ClamdScanner(clamd.address, timeout=5)
        scanner.CHUNK = 1000  # several chunks
        data = pdf_bytes(lambda w: w.add_metadata({"/Title": "x" * 3000}))
        assert len(check_message([("ok.pdf", data)], scanner=scanner)) == 1
        assert clamd.received[-1] == data
        [problem] = refused([("virus.pdf", b"%PDF-1.4\n" + EICAR)], scanner=scanner)
        assert problem == "« virus.pdf » est refusé : un virus a été détecté (Eicar-Test-Signature)."
    finally:
        clamd.close()


def test_clamd_down_refuses_for_now():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    [problem] = refused([("ok.pdf", pdf_bytes())], scanner=ClamdScanner(f"127.0.0.1:{port}", 2))
    assert "l'analyse antivirus est momentanément indisponible" in problem
