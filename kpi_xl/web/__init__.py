"""The web face of the consolidated results: a static site anyone at head office can open.

``build_site(db, out)`` reads one period from the history database (:mod:`kpi_xl.web.data`, the
only module that queries it), renders Jinja2 templates shipped in this package with server-side
SVG charts (:mod:`kpi_xl.web.svg`) and writes the folder atomically (:mod:`kpi_xl.web.build`).
The result opens from ``file://`` with no server and no internet: fonts, CSS and the filter script
are copied into the site, and every link is relative.
"""

from .build import MARKER, SiteError, SiteInfo, build_site

__all__ = ["MARKER", "SiteError", "SiteInfo", "build_site"]
