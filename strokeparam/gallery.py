"""Galleries: paint classes and photos x styles x painters into a folder (:func:`plan`, :func:`build`), with an
HTML page, a Markdown page and the manifest that resumes them.

:func:`render_html` and :func:`render_markdown` are pure (items in, text out); every caption is escaped,
so a class name or a file name can never inject markup. Importing this module imports no torch.
"""
from __future__ import annotations

import dataclasses
import html
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .files import atomic_write_bytes, read_json
from .judge import heldout_name, verdict
from . import pictures
from .checks import integer

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
    underpainting: int = 0  # strokes in the layers under the tiles
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
        for name, low in (("strokes", 1), ("steps", 0), ("tiles", 1), ("underpainting", 0)):
            value = getattr(self, name)
            integer(value, f"gallery item {name}", low)
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
        strokes = (_count(self.strokes, "stroke") + (f" x {self.tiles} tiles" if self.tiles > 1 else "")
                   + (f" + {self.underpainting} underpainting" if self.underpainting else ""))
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
    integer(columns, "columns")
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


def write_sheet(items, folder, path, side: int = 224) -> Path:
    """One PNG of the gallery's paintings, atomically: a row per subject, a column per painter and style,
    each cell the painting beside its MyPaint re-paint (when there is one) under the held-out verdicts."""
    from PIL import Image, ImageDraw
    items = list(items)
    if not items:
        raise ValueError("a contact sheet needs at least one painting")
    subjects = list(dict.fromkeys(item.subject for item in items))
    columns = list(dict.fromkeys((item.painter, item.constraint) for item in items))
    label, gap, margin = 18, 12, 90
    cell = 2 * side + 4
    sheet = Image.new("RGB", (margin + len(columns) * (cell + gap), len(subjects) * (side + label + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for item in items:
        row, col = subjects.index(item.subject), columns.index((item.painter, item.constraint))
        x, y = margin + col * (cell + gap), row * (side + label + gap)
        text = f"{item.painter}" + (f", {item.constraint}" if len({c for _, c in columns}) > 1 else "")
        if item.probability is not None:
            text += f": neural P {item.probability:.2f}"
        if item.mypaint_probability is not None:
            text += f" | MyPaint P {item.mypaint_probability:.2f}"
        draw.text((x, y + 2), text, fill="black")
        for k, name in enumerate(n for n in (item.image, item.mypaint) if n):
            with Image.open(Path(folder) / name) as picture:
                sheet.paste(picture.convert("RGB").resize((side, side)), (x + k * (side + 4), y + label))
    for row, subject in enumerate(subjects):
        draw.text((4, row * (side + label + gap) + label + side // 2), subject.split(" (")[0], fill="black")
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


# -- building a gallery -------------------------------------------------------------------------------

@dataclass
class Job:
    """One gallery painting to make (or to keep, if its files are there)."""

    stem: str
    style: object                  # a color constraint: .slug (file names), .label (captions), .kwargs (the param's)
    index: int | None = None       # class jobs
    name: str = ""
    picture: object = None         # style jobs: the content PIL image
    painter: str | None = None     # a painter name (None: the default painter)


def plan(classes, photos, styles, painters=(None,)) -> list[Job]:
    """The paintings of ``classes`` ((index, name) pairs) and ``photos`` ((PIL image, name) pairs), each in
    each of ``styles`` (color constraints like :class:`strokeparam.cli.Style`) by each of ``painters``
    (names; None: the default painter). File stems name the painter when there are several; two paintings
    with one stem are a ValueError."""
    painters = list(painters)
    suffix = (lambda name: f"_{pictures.slug(name)}") if len(painters) > 1 else (lambda name: "")
    jobs = [Job(f"{pictures.slug(name)}_{style.slug}{suffix(painter)}", style, index, name, painter=painter)
            for index, name in classes for style in styles for painter in painters]
    for picture, label in photos:
        jobs += [Job(f"photo_{pictures.slug(label)}_{style.slug}{suffix(painter)}", style, name=label, picture=picture,
                     painter=painter) for style in styles for painter in painters]
    stems = [job.stem for job in jobs]
    clashes = sorted({stem for stem in stems if stems.count(stem) > 1})
    if clashes:
        raise ValueError(f"two inputs would both be saved as {clashes[0]}.png: give the style images distinct names")
    return jobs


@dataclass(frozen=True)
class Built:
    """What :func:`build` did: the pages it wrote, the paintings the gallery holds and those painted now."""

    page: Path
    readme: Path
    items: int
    painted: int


def build(folder, jobs, *, models, class_kwargs: dict, photo_kwargs: dict, photo_size, load_painter=None,
          seed: int = 0, device=None, mypaint: bool = False, repaints: int = 1, transparent: bool = False,
          title: str = "strokeparam gallery", intro: str = "", command: str = "", progress: bool = True) -> Built:
    """Paint the ``jobs`` (:func:`plan`) whose files are not in ``folder`` yet, then write its pages.

    Resumable: a painting whose PNG and strokes JSON are there is kept, with its record in the manifest (or,
    without one, a caption rebuilt from its strokes); the manifest and the pages are rewritten after each
    painting. Classes are painted by :func:`strokeparam.paint.paint_class` with the classifiers named
    ``models`` and ``class_kwargs`` (its strokes and steps go in the captions), then judged by the held-out
    classifier (:func:`strokeparam.judge.heldout_name`); photos by :func:`strokeparam.paint.paint_content`
    with ``photo_kwargs`` at ``photo_size`` (N: the long side, or (h, w)). ``load_painter(name)`` gives a
    painter and its caption (default: the shipped weights). Files are written by
    :func:`strokeparam.pictures.save_painting`, with the MyPaint re-paint if ``mypaint`` (of a class: the one of
    ``repaints`` brush seeds from ``seed`` that the painting classifiers like best,
    :func:`strokeparam.paint.best_repaint`). ``progress``: bars and messages on stderr.
    """
    from .progress import progress as progress_bar
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recorded = load_manifest(folder)
    items = {image: item for image, item in recorded.items() if (folder / image).is_file()}
    tools = _Tools(dict(models=models, class_kwargs=class_kwargs, photo_kwargs=photo_kwargs, photo_size=photo_size,
                        load_painter=load_painter or _shipped_painter, seed=seed, device=device, mypaint=mypaint,
                        repaints=repaints, transparent=transparent, progress=progress))
    todo = []
    for job in jobs:
        if not ((folder / f"{job.stem}.png").is_file() and (folder / f"{job.stem}.json").is_file()):
            todo.append(job)
        elif f"{job.stem}.png" not in items:
            _say(progress, f"gallery: {job.stem}.png has no record in {MANIFEST}; "
                           "its caption is rebuilt from its strokes, without the held-out probability")
            items[f"{job.stem}.png"] = tools.recaption(job, folder)
    _say(progress, f"gallery: {len(jobs) - len(todo)} of {len(jobs)} paintings already in {folder}, "
                   f"{len(todo)} to paint")
    for job in progress_bar(todo, desc="gallery", disable=not progress or not todo):
        item = tools.paint(job, folder)
        items[item.image] = item
        save_manifest(folder, items.values())
        write_pages(items.values(), folder, title, intro, command)
    page, readme = write_pages(items.values(), folder, title, intro, command)
    return Built(page, readme, len(items), len(todo))


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr)


def _shipped_painter(name: str | None):
    from .painters import create_painter
    painter = create_painter(name)
    return painter, painter.name


class _Tools:
    """Painter and classifiers of a gallery build, loaded once and only when something needs painting."""

    def __init__(self, options: dict):
        self.options = options
        self._loaded = {}

    def _get(self, key, make):
        if key not in self._loaded:
            self._loaded[key] = make()
        return self._loaded[key]

    def _classifier(self, name: str):
        from .models import load_classifier
        return load_classifier(name, device=self.options["device"])

    def paint(self, job: Job, folder: Path) -> GalleryItem:
        """Paint ``job`` into ``folder`` → its GalleryItem."""
        import torch

        from .paint import best_repaint, paint_class, paint_content
        o = self.options
        painter, painter_label = None, None           # a photo with no painter named: its style preset's
        if job.picture is None or job.painter is not None:
            painter, painter_label = self._get(("painter", job.painter), lambda: o["load_painter"](job.painter))
        common = dict(seed=o["seed"], device=o["device"], progress=o["progress"], painter=painter, **job.style.kwargs)
        out = folder / f"{job.stem}.png"
        if job.picture is None:
            models = self._get("models", lambda: [self._classifier(name) for name in o["models"]])
            param = paint_class(job.index, models=models, **o["class_kwargs"], **common)
            strokes, steps = o["class_kwargs"]["strokes"], self._class_steps(job, param.one_tile)
        else:
            size = pictures.photo_size(job.picture, o["photo_size"])
            param = paint_content(job.picture, size=size, **o["photo_kwargs"], **common)
            strokes, steps = param.strokes, o["photo_kwargs"]["steps"]
            job.picture.resize(size[::-1]).save(folder / f"{job.stem}_content.png")
        seed, repaint = o["seed"], None
        if o["mypaint"] and job.picture is None:
            seed, repaint = best_repaint(param, job.index, models, range(seed, seed + o["repaints"]), o["device"])
        elif o["mypaint"]:
            repaint = param.to_mypaint(seed=seed)
        pictures.save_painting(param, out, mypaint=o["mypaint"], seed=seed, transparent=o["transparent"],
                               repaint=repaint)
        probability = judge = None
        if job.index is not None:
            judge = heldout_name(o["models"])
            if judge is not None:
                model = self._get("heldout", lambda: self._classifier(judge))
                with torch.no_grad():
                    probability = [verdict(model, image, job.index)[0]
                                   for image in (param.image(mypaint=False), repaint) if image is not None]
        from .canvas import strokes_in
        return self._item(job, folder, painter_label or param.painter.name, strokes, steps, param.layout.tiles,
                          strokes_in(param.levels[:-1]), probability, judge)

    def _class_steps(self, job: Job, one_tile: bool) -> int:
        """The steps a class painting of ``job`` took: the gallery's, or paint_class's default for it."""
        from .paint import class_steps
        return self.options["class_kwargs"]["steps"] or class_steps(job.style.kwargs.get("grayscale", False), one_tile)

    def recaption(self, job: Job, folder: Path) -> GalleryItem:
        """The GalleryItem of a painting whose files are there but whose record is not."""
        from .canvas import strokes_in, underpainting_levels
        from .export import load_strokes
        saved = load_strokes(folder / f"{job.stem}.json")
        layout, doc = saved["layout"], saved["doc"]
        o = self.options
        steps = (o["photo_kwargs"]["steps"] if job.picture is not None
                 else self._class_steps(job, layout.tiles == 1 and not saved["underpainting"]))
        under = strokes_in(underpainting_levels(saved["underpainting"] or 0, layout))
        return self._item(job, folder, doc["painter"], doc["strokes_per_tile"], steps, layout.tiles, under, None, None)

    @staticmethod
    def _item(job: Job, folder: Path, painter: str, strokes: int, steps: int, tiles: int, underpainting: int,
              probability, judge) -> GalleryItem:
        """The item of a painting; ``probability``: None, or held-out P of the neural render [and the re-paint]."""
        neural_p, mypaint_p = (list(probability or []) + [None, None])[:2]
        out = folder / f"{job.stem}.png"
        content = f"{job.stem}_content.png" if job.picture is not None else None
        mypaint = pictures.mypaint_path(out)
        return GalleryItem(kind="class" if job.index is not None else "style", image=out.name,
                           subject=f"{job.name} ({job.index})" if job.index is not None else job.name,
                           painter=painter, constraint=job.style.label, strokes=strokes, steps=steps, tiles=tiles,
                           underpainting=underpainting,
                           probability=neural_p, mypaint_probability=mypaint_p, heldout=judge,
                           content=content if content and (folder / content).is_file() else None,
                           mypaint=mypaint.name if mypaint.is_file() else None,
                           strokes_json=out.with_suffix(".json").name)
