"""Every size limit the reader enforces, in one place, each with the reason for its value.

A district workbook is a zip package that anyone can hand-edit. Without limits a few-MB file whose
sheet XML inflates to 1.2 GiB, one stray cell at ``XFD1048576`` (calamine then builds a dense grid
of 17 billion cells) or one edited metadata count can take gigabytes and stop a whole
consolidation. The reader checks these limits **before** inflating anything (from the zip central
directory) and again while inflating (a bounded decompressor: local headers can lie), and turns a
breach into one located, coded problem (KPI-E114, naming the part and the limit), never into a
multi-GB read. Far cells are not refused but cut before calamine sees them (see
``kpi_xl.reader._trim_far_cells``): a workbook with one stray cell validates as without it.

The values are generous multiples of what the real builder writes. Measured on a filled workbook of
30 indicators (``bench/bench_read.py``): ≈ 140 zip members, the largest part ``xl/workbook.xml``
at 62 kB, each indicator sheet ≈ 30 kB, ≈ 1 MB inflated in all, compression ratios ≤ 15, named
cells within A1:H70, one ``catalog_parts`` of 30,000 characters per 30 indicators.
"""

from __future__ import annotations

from typing import Final

MiB: Final = 1024 * 1024

#: One zip member, inflated. 32 MiB is ≈ 500× the largest part a real 30-indicator workbook has
#: (62 kB); a sheet a clerk pasted 100,000 rows into still fits. Larger is refused, not read.
MAX_MEMBER_BYTES: Final = 32 * MiB

#: The whole package, inflated. 128 MiB is ≈ 100× a real workbook (≈ 1 MB) and keeps the
#: reader's peak memory far below the 200 MB the issue allows per workbook.
MAX_PACKAGE_BYTES: Final = 128 * MiB

#: Inflated ÷ compressed size, checked only for members above :data:`RATIO_MIN_BYTES`. Real XML
#: parts compress 2–15×; a zip bomb of repeated bytes compresses ≈ 1000×. 100 leaves room for very
#: repetitive but honest XML (empty styled rows).
MAX_COMPRESSION_RATIO: Final = 100
#: Below this a member's ratio does not matter: it cannot cost more than this anyway.
RATIO_MIN_BYTES: Final = 1 * MiB

#: Zip members. A real workbook has ≈ 5 per indicator sheet plus ≈ 10 (140 for 30 indicators);
#: 4,000 allows a catalog of several hundred indicators with comments and drawings.
MAX_MEMBERS: Final = 4000

#: Sheets listed in ``xl/workbook.xml``. The form has 4 fixed sheets plus one per indicator.
MAX_SHEETS: Final = 1000

#: A contract cell must lie within the form's area: the form has ≈ 40 rows, so even after a clerk
#: inserts many rows none is beyond 5000, and no form column is beyond AZ. A name pointing further
#: is misdirected (KPI-E115, kpi_xl/names.py); no reader reads that far.
MAX_NAMED_ROW: Final = 5000
MAX_NAMED_COLUMN: Final = 52  # AZ

#: Rows read from the hidden metadata sheet. The builder writes 10 + ``catalog_parts`` rows.
MAX_META_ROWS: Final = 2000
#: ``catalog_parts``: 30,000 characters each; 1,000 parts = 30 MB of catalog JSON, ≈ 1000× the
#: sample catalog. A larger count is an edited sheet, refused before any part is gathered.
MAX_CATALOG_PARTS: Final = 1000

#: The reader caches the parsed sheet list and defined names on their XML text (workbooks of one
#: catalog share it). Only texts up to 1 M characters (a real 30-indicator workbook: 60 k) and
#: name lists up to 20,000 are cached, so the 64 cache entries never hold more than ≈ 64 MB.
CACHED_XML_CHARS: Final = 1_000_000
CACHED_NAMES: Final = 20_000
