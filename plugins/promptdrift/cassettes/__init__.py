"""Cassette files: the vcrpy-format file, its names on disk, and what is scrubbed before anything is written."""
