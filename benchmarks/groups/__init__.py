"""The benchmark's groups, one module each; each has ``run(bench)`` and adds its figures to the bench."""
