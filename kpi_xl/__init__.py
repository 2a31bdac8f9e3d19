"""Bangkok district KPI reports as Excel-native workbooks: build, validate, consolidate."""
