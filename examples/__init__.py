"""Example applications built on queuebench's systems (see snippets_app/README.md)."""
