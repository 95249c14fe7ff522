"""Command-line interface (``wsinuc``): parse, call one library function, report."""
