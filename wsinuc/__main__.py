"""``python -m wsinuc`` = the ``wsinuc`` command."""

from wsinuc.cli.app import main

main()
