"""The ``ragtune`` command line: thin commands over the library."""
