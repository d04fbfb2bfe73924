"""One module per CLI command: each parses options and calls a typed library function."""
