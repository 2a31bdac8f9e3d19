"""`python -m kpi_xl` runs the same CLI as `kpi-xl`."""

from .cli import main

main()
