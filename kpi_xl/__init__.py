"""Bangkok district KPI reports as Excel-native workbooks: build, validate, consolidate.

The package imports nothing here on purpose: the Excel button imports ``kpi_xl.excel`` on every
press, and each module pulls in only what it needs.
"""

__version__ = "0.1.0"
