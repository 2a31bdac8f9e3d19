"""`python -m kpi_xl` runs the same CLI as `kpi-xl`."""

from .cli import main

if __name__ == "__main__":  # not again in a spawned worker (kpi_xl.consolidate)
    main()
