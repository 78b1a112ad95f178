"""Gallery pages: painted items → an HTML page and a Markdown page, and the manifest that resumes them.

:func:`render_html` and :func:`render_markdown` are pure (items in, text out); every caption is escaped,
so a class name or a file name can never inject markup.
"""
from __future__ import annotations

import dataclasses
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .files import atomic_write_bytes, read_json

KINDS = {"class": "ImageNet classes", "style": "Intrinsic style transfer"}
MANIFEST = "gallery.json"
_HEX = re.compile(r"#[0-9a-f]{6}")


@dataclass(frozen=True)
class GalleryItem:
    """One painting and what its caption says; paths are relative to the gallery folder."""

    kind: str               # "class": an ImageNet class painted; "style": a photo painted by content
    image: str              # the painting (PNG)
    subject: str            # "giant panda (388)" or the content image's name
    painter: str
    constraint: str         # "color", "grayscale" or "palette #rrggbb #rrggbb ..."
    strokes: int            # strokes per tile
    steps: int
    tiles: int = 1
    probability: float | None = None   # of the class under the held-out classifier
    heldout: str | None = None          # the held-out classifier's name
    content: str | None = None          # style items: the content image
    mypaint: str | None = None          # the MyPaint re-paint
    strokes_json: str | None = None     # the stroke JSON
    mypaint_probability: float | None = None   # of the class in the MyPaint re-paint, same classifier

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"gallery item kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("image", "subject", "painter", "constraint"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"gallery item {name} must be a string, got {getattr(self, name)!r}")
        for name in ("heldout", "content", "mypaint", "strokes_json"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise ValueError(f"gallery item {name} must be a string or null, got {getattr(self, name)!r}")
        for name, low in (("strokes", 1), ("steps", 0), ("tiles", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"gallery item {name} must be an integer >= {low}, got {value!r}")
        for name in ("probability", "mypaint_probability"):
            p = getattr(self, name)
            if p is not None and (not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1):
                raise ValueError(f"gallery item {name} must be a number in [0, 1] or null, got {p!r}")

    @classmethod
    def from_dict(cls, data: dict) -> "GalleryItem":
        if not isinstance(data, dict):
            raise ValueError(f"a gallery item must be a JSON object, got {data!r:.60}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown gallery item field(s) {unknown}; fields are {', '.join(sorted(names))}")
        return cls(**data)

    def caption(self) -> dict[str, str]:
        """The caption as short phrases: subject, painter, constraint, strokes, steps, held-out verdict."""
        strokes = _count(self.strokes, "stroke") + (f" x {self.tiles} tiles" if self.tiles > 1 else "")
        parts = dict(subject=self.subject, painter=f"painter {self.painter}", constraint=self.constraint,
                     strokes=strokes, steps=_count(self.steps, "step"))
        if self.probability is not None:
            parts["heldout"] = f"P = {self.probability:.3f} by held-out {self.heldout or 'classifier'}"
            if self.mypaint_probability is not None:
                parts["heldout"] += f" (MyPaint re-paint: {self.mypaint_probability:.3f})"
        return parts


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _pictures(item: GalleryItem) -> list[tuple[str, str]]:
    """(path, role) of the pictures an item shows, left to right."""
    pictures = [(item.content, "content")] if item.content else []
    pictures.append((item.image, "painting"))
    if item.mypaint:
        pictures.append((item.mypaint, "MyPaint re-paint"))
    return pictures


def _url(path: str) -> str:
    return html.escape(quote(Path(path).as_posix()), quote=True)


def _constraint_html(constraint: str) -> str:
    """The constraint as text, with a swatch for each palette color."""
    swatches = "".join(f'<span class="swatch" style="background:{c}"></span>'
                       for c in _HEX.findall(constraint.lower()))
    return html.escape(constraint) + swatches


CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1.5rem}
figure{margin:0}
.pictures{display:flex;gap:.25rem;align-items:flex-start}
.pictures a{flex:0 1 50%;min-width:0}
.pictures img{display:block;width:100%;height:auto;outline:1px solid #ddd}
figcaption{font-size:.85rem;line-height:1.35;margin-top:.3rem}
figcaption .subject{font-weight:600;display:block}
.swatch{display:inline-block;width:.8em;height:.8em;margin-left:.2em;border:1px solid #888;vertical-align:middle}
"""


def render_html(items, title: str = "strokeparam gallery", intro: str = "", command: str = "") -> str:
    """The gallery page: one section per kind of item, each a grid of captioned figures.

    ``intro`` is a paragraph of text, ``command`` the command line that made the gallery.
    """
    items = list(items)
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>{html.escape(title)}</h1>"]
    if intro:
        out.append(f"<p>{html.escape(intro)}</p>")
    if command:
        out.append(f"<p>Made with <code>{html.escape(command)}</code></p>")
    for kind, heading in KINDS.items():
        group = [item for item in items if item.kind == kind]
        if not group:
            continue
        out += [f'<section id="{kind}">', f"<h2>{html.escape(heading)}</h2>", '<div class="grid">']
        for item in group:
            caption = item.caption()
            alt = html.escape(", ".join(caption.values()), quote=True)
            pictures = "".join(f'<a href="{_url(path)}"><img src="{_url(path)}" alt="{html.escape(role)}: {alt}" '
                               f'title="{html.escape(role)}"></a>' for path, role in _pictures(item))
            rest = [_constraint_html(text) if key == "constraint" else html.escape(text)
                    for key, text in caption.items() if key != "subject"]
            if item.strokes_json:
                rest.append(f'<a href="{_url(item.strokes_json)}">strokes</a>')
            out += ["<figure>", f'<div class="pictures">{pictures}</div>',
                    f'<figcaption><span class="subject">{html.escape(caption["subject"])}</span>'
                    f'{" · ".join(rest)}</figcaption>', "</figure>"]
        out += ["</div>", "</section>"]
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _md_text(text: str) -> str:
    """Text that Markdown shows literally inside a table cell: HTML-escaped, Markdown syntax as entities."""
    return "".join(f"&#{ord(ch)};" if ch in "\\`*_[]|~!#&<>\"'" else ch for ch in " ".join(str(text).split()))


def render_markdown(items, title: str = "strokeparam gallery", intro: str = "", command: str = "",
                    columns: int = 3) -> str:
    """The gallery as Markdown (GitHub renders it): one table of captioned pictures per kind of item."""
    if not isinstance(columns, int) or isinstance(columns, bool) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    items = list(items)
    out = [f"# {_md_text(title)}", ""]
    if intro:
        out += [_md_text(intro), ""]
    if command:
        out += [f"Made with <code>{_md_text(command)}</code>", ""]
    for kind, heading in KINDS.items():
        group = [item for item in items if item.kind == kind]
        if not group:
            continue
        out += [f"## {_md_text(heading)}", "", "|" + " |" * columns, "|" + "---|" * columns]
        cells = []
        for item in group:
            caption = item.caption()
            shown = _pictures(item)
            pictures = "".join(f'<img src="{_url(path)}" width="{240 // len(shown)}" alt="{_md_text(role)}">'
                               for path, role in shown)
            text = f"<b>{_md_text(caption.pop('subject'))}</b><br>" + " · ".join(map(_md_text, caption.values()))
            if item.strokes_json:
                text += f' · <a href="{_url(item.strokes_json)}">strokes</a>'
            cells.append(f"{pictures}<br>{text}")
        cells += [""] * (-len(cells) % columns)
        for row in range(0, len(cells), columns):
            out.append("| " + " | ".join(cells[row:row + columns]) + " |")
        out.append("")
    return "\n".join(out)


def write_pages(items, folder, title: str = "strokeparam gallery", intro: str = "",
                command: str = "") -> tuple[Path, Path]:
    """Write ``index.html`` and ``README.md`` of ``items`` into ``folder`` atomically → their paths."""
    folder = Path(folder)
    items = list(items)
    page, readme = folder / "index.html", folder / "README.md"
    atomic_write_bytes(page, render_html(items, title, intro, command).encode())
    atomic_write_bytes(readme, render_markdown(items, title, intro, command).encode())
    return page, readme


def load_manifest(folder) -> dict[str, GalleryItem]:
    """The items recorded in ``folder/gallery.json``, by painting path (empty when there is none)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    try:
        rows = read_json(path, "gallery manifest")["items"]
        if not isinstance(rows, list):
            raise ValueError(f"'items' must be a list, got {rows!r:.60}")
        items = [GalleryItem.from_dict(row) for row in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a strokeparam gallery manifest ({exc}); move it away to start anew") from None
    return {item.image: item for item in items}


def save_manifest(folder, items) -> Path:
    """Record ``items`` in ``folder/gallery.json`` atomically."""
    path = Path(folder) / MANIFEST
    rows = [dataclasses.asdict(item) for item in items]
    atomic_write_bytes(path, (json.dumps({"items": rows}, indent=1) + "\n").encode())
    return path
