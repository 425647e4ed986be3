"""Text handling shared by every layer above: YAML in and out, Jinja2 templates, paths inside the repository,
the word diff of two answers."""
