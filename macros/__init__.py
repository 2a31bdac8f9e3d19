"""VBA source of the workbook macros (ASCII; Thai text stays in Python). Shipped as package data."""
