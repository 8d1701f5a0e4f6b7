"""`python -m coreo` runs the CLI."""

from coreo.cli import main

main()
