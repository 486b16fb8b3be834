"""The office console's pages, one module per piece of work."""
