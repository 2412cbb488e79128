"""Scanned pages made here: text (and a small table) drawn with a real TrueType font, slightly blurred and
skewed the way a flatbed scan is, embedded as a PDF page with no text layer (fpdf2) or saved as an image file.
Shared by benchmarks/ocr_speed.py and tests/kb/test_ocr.py."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

SCAN_DPI = 300
A4_MM = (210, 297)
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
)


def font_path() -> str:
    for path in FONTS:
        if Path(path).is_file():
            return path
    raise FileNotFoundError(
        f"no TrueType font found (looked for {', '.join(FONTS)}); apt-get install fonts-dejavu-core"
    )


def page_image(
    lines: list[str],
    table: list[list[str]] | None = None,
    *,
    font_pt: float = 11,
    dpi: int = SCAN_DPI,
    skew_deg: float = 0.4,
    blur: float = 0.6,
    noise: float = 0.02,
    seed: int = 0,
) -> Image:
    """An A4 page scanned at ``dpi``: ``lines`` of text, then ``table`` (rows of cells, a grid drawn round them)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    width, height = (round(mm / 25.4 * dpi) for mm in A4_MM)
    img = PILImage.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path(), round(font_pt / 72 * dpi))
    margin = round(25 / 25.4 * dpi)
    line_h = round(font_pt * 1.5 / 72 * dpi)
    y = margin
    for line in lines:
        draw.text((margin, y), line, fill=0, font=font)
        y += line_h
    if table:
        y += line_h
        col_w = (width - 2 * margin) // max(len(r) for r in table)
        top = y
        for row in table:
            for j, cell in enumerate(row):
                draw.text((margin + j * col_w + line_h // 3, y + line_h // 6), cell, fill=0, font=font)
            y += line_h
            draw.line((margin, y, width - margin, y), fill=0, width=2)
        draw.line((margin, top, width - margin, top), fill=0, width=2)
        for j in range(len(table[0]) + 1):
            x = margin + j * col_w
            draw.line((x, top, x, y), fill=0, width=2)
    return degrade(img, skew_deg=skew_deg, blur=blur, noise=noise, seed=seed)


def degrade(img: Image, *, skew_deg: float = 0.4, blur: float = 0.6, noise: float = 0.02, seed: int = 0) -> Image:
    """A clean greyscale page made to look scanned: skewed by ``skew_deg``, blurred, and ``noise`` percent of its
    pixels flipped to grey specks."""
    from PIL import Image as PILImage
    from PIL import ImageFilter

    rng = random.Random(seed)
    img = img.convert("L").rotate(skew_deg, resample=PILImage.Resampling.BICUBIC, fillcolor=255)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if noise:  # specks: a share of pixels flipped to grey
        width, height = img.size
        px = img.load()
        assert px is not None
        for _ in range(int(width * height * noise / 100)):
            px[rng.randrange(width), rng.randrange(height)] = rng.randrange(80, 200)
    return img


def write_pdf(path: Path, pages: list[Image | list[str]]) -> Path:
    """A PDF of ``pages``: an image becomes a scanned page (no text layer), a list of lines a page with real text."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    for page in pages:
        pdf.add_page()
        if isinstance(page, list):
            pdf.set_font("helvetica", size=11)
            for line in page:
                pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.image(page, x=0, y=0, w=A4_MM[0], h=A4_MM[1])
    pdf.output(str(path))
    return path


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance between the whitespace-normalised texts over the reference's length."""
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, start=1):
        cur = [i]
        for j, hc in enumerate(hyp, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc)))
        prev = cur
    return prev[-1] / max(1, len(ref))
