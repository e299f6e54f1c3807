"""``python -m simulation`` is the ``opmatrix`` command."""

from simulation.cli import main

main()
