"""``python -m amlas``."""

from amlas.cli import main

main()
