"""Test support that ships with the package: a scripted OpenAI-compatible server (``promptdrift demo-server``)."""
