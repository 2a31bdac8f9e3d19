"""Head office's side of the year's cycle, after consolidation: the review workbook head office
fills (:mod:`.review`) and, when it is applied, the feedback that goes back to the districts.

Everything here reads :mod:`kpi_xl.result` (what a consolidation found) and never imports
:mod:`kpi_xl.consolidate`: data flows one way, read → check → consolidate → result → writers.
"""
