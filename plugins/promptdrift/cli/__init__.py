"""The ``promptdrift`` command: validate, compare, scan, demo-server."""
