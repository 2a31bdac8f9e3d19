"""Saving an openpyxl workbook without losing its macros' buttons.

openpyxl keeps a workbook's VBA project when asked (``keep_vba=True``), but version 3.1 copies the
buttons' VML drawings with the pattern ``vmlDrawing\\d\\.vml``: from ``vmlDrawing10.vml`` on, the
drawings of a district workbook (ten or more button sheets) were dropped while the sheets still
pointed at them, and notes added next to buttons were given the buttons' shape ids. Every writer
that edits a district workbook with openpyxl (fill, ``--annotate``) saves through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet


def save_workbook(book: Workbook, dst: str | Path, *, keep_vba: bool) -> Path:
    """Save ``book`` to ``dst`` atomically (never a half-written file), keeping the Form buttons'
    drawings when the workbook carries macros: the one ending of every openpyxl writer here."""
    from .files import atomic_path

    dst = Path(dst)
    with atomic_path(dst) as tmp:
        if keep_vba:
            save_keeping_vba(book, tmp)  # a plain save drops the buttons of sheets 10 and up
        else:
            book.save(tmp)
    return dst


def save_keeping_vba(book: Workbook, path: str | Path) -> None:
    """``book.save(path)``, but every VML drawing of the source (the Form buttons) is kept.

    openpyxl's writer copies the source's VBA parts with the pattern ``vmlDrawing\\d\\.vml``: from
    ``vmlDrawing10.vml`` on, the parts are dropped while the sheets still point at them. A drawing
    the source itself lacks (a copy already damaged that way) is unlinked so the file stays valid.
    """
    import datetime as dt
    import re
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.writer.excel import ExcelWriter

    archive = book.vba_archive
    present = set(archive.namelist()) if archive is not None else set()
    for ws in book.worksheets:
        if ws.legacy_drawing is not None and ws.legacy_drawing not in present:
            ws.legacy_drawing = None  # a dangling link Excel would "repair" by dropping the sheet's drawing

    class _Writer(ExcelWriter):
        PARTS = re.compile(r"xl/vba|xl/drawings/.*vmlDrawing\d+\.vml|xl/ctrlProps|customUI|xl/activeX|xl/media/.*\.emf")

        def _merge_vba(self) -> None:
            if self.workbook.vba_archive:
                for name in sorted(set(self.workbook.vba_archive.namelist()) - self.vba_modified):
                    if self.PARTS.match(name):
                        self._archive.writestr(name, self.workbook.vba_archive.read(name))

        def _write_comment(self, ws: Worksheet) -> None:
            """openpyxl's, with the notes' VML shapes numbered after the buttons' (it restarts at
            1026, which gives a note the id of the second button) and Excel's own prefixes."""
            from openpyxl.comments.comment_sheet import CommentSheet
            from openpyxl.packaging.relationship import Relationship
            from openpyxl.xml.functions import fromstring

            sheet = CommentSheet.from_comments(ws._comments)  # noqa: SLF001
            self._comments.append(sheet)
            sheet._id = len(self._comments)  # noqa: SLF001
            self._archive.writestr(sheet.path[1:], _tostring(sheet.to_tree()))
            self.manifest.append(sheet)
            if ws.legacy_drawing is None or self.workbook.vba_archive is None:
                ws.legacy_drawing = f"xl/drawings/commentsDrawing{sheet._id}.vml"  # noqa: SLF001
                vml = None
            else:
                vml = fromstring(self.workbook.vba_archive.read(ws.legacy_drawing))
            self._archive.writestr(ws.legacy_drawing, _vml_with_unique_ids(sheet.write_shapes(vml)))
            self.vba_modified.add(ws.legacy_drawing)
            ws._rels.append(Relationship(Id="comments", type=sheet._rel_type, Target=sheet.path))  # noqa: SLF001

    with ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True) as zf:
        book.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
        _Writer(book, zf).save()


_VML = {"v": "urn:schemas-microsoft-com:vml", "o": "urn:schemas-microsoft-com:office:office",
        "x": "urn:schemas-microsoft-com:office:excel"}


def _tostring(tree: Any) -> bytes:
    from openpyxl.xml.functions import tostring

    return tostring(tree)


def _vml_with_unique_ids(data: bytes) -> bytes:
    """One ``o:shapelayout``, and note shapes numbered after every other shape (the buttons)."""
    import re
    import xml.etree.ElementTree as ET

    for prefix, uri in _VML.items():
        ET.register_namespace(prefix, uri)
    root = ET.fromstring(data)
    v, o = "{" + _VML["v"] + "}", "{" + _VML["o"] + "}"
    layouts = root.findall(f"{o}shapelayout")
    for extra in layouts[1:]:
        root.remove(extra)
    shapes = root.findall(f"{v}shape")
    notes = [s for s in shapes if s.get("type") == "#_x0000_t202"]
    others = [s for s in shapes if s.get("type") != "#_x0000_t202"]
    used = [int(m.group(1)) for s in others if (m := re.search(r"_s(\d+)$", s.get("id", "")))]
    next_id = max(used, default=1024) + 1
    for shape in notes:
        shape.set("id", f"_x0000_s{next_id}")
        next_id += 1
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)
