"""Static HTML result pages (CycleGAN ``util/html.py``, built with ``dominate``)."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from dominate import document
from dominate.tags import a, br, h3, img, meta, p, table, td, tr

from .util import save_image, tensor2im

__all__ = ["HTML", "save_images"]


class HTML:
    """A page ``<web_dir>/<index_name>`` whose images live in ``<web_dir>/<image_subdir>/``.

    Training uses the CycleGAN layout (``images/``, ``index.html``); ``test.py`` uses the
    original's (``<imagefolder>/``, ``index<imagefolder>.html``).
    """

    def __init__(
        self,
        web_dir: str | os.PathLike,
        title: str,
        refresh: int = 0,
        image_subdir: str = "images",
        index_name: str = "index.html",
    ) -> None:
        self.title = title
        self.web_dir = Path(web_dir)
        self.image_subdir = image_subdir
        self.img_dir = self.web_dir / image_subdir
        self.index_name = index_name
        self.img_dir.mkdir(parents=True, exist_ok=True)
        self.doc = document(title=title)
        if refresh > 0:
            with self.doc.head:
                meta(http_equiv="refresh", content=str(refresh))

    def get_image_dir(self) -> Path:
        """Folder the page's images are saved in."""
        return self.img_dir

    def add_header(self, text: str) -> None:
        """Insert a header line."""
        with self.doc:
            h3(text)

    def add_images(self, ims: Sequence[str], txts: Sequence[str], links: Sequence[str], width: int = 400) -> None:
        """One table row of images (file names relative to the image folder) with captions."""
        self.t = table(border=1, style="table-layout: fixed;")
        self.doc.add(self.t)
        with self.t:
            with tr():
                for im, txt, link in zip(ims, txts, links):
                    with td(style="word-wrap: break-word;", halign="center", valign="top"):
                        with p():
                            with a(href=f"{self.image_subdir}/{link}"):
                                img(style=f"width:{width}px", src=f"{self.image_subdir}/{im}")
                            br()
                            p(txt)

    def save(self) -> Path:
        """Write the page; returns its path."""
        path = self.web_dir / self.index_name
        path.write_text(self.doc.render())
        return path


def save_images(
    webpage: HTML,
    visuals: Mapping[str, torch.Tensor],
    image_path: Sequence[str] | str,
    aspect_ratio: float = 1.0,
    width: int = 256,
) -> list[Path]:
    """Save every visual of the first batch item as ``<name>_<label>.png`` and add a row to ``webpage``.

    ``name`` is the stem of ``image_path[0]`` (e.g. ``ori->00000``).
    """
    first = image_path[0] if not isinstance(image_path, str) else image_path
    name = os.path.splitext(os.path.basename(first))[0]
    webpage.add_header(name)
    ims, txts, links, written = [], [], [], []
    for label, im_data in visuals.items():
        image_name = f"{name}_{label}.png"
        path = webpage.get_image_dir() / image_name
        save_image(tensor2im(im_data), path, aspect_ratio=aspect_ratio)
        ims.append(image_name)
        txts.append(label)
        links.append(image_name)
        written.append(path)
    webpage.add_images(ims, txts, links, width=width)
    return written
