"""Typed clients of the public APIs: the web app's only door to the data.

One class per API, one method per operation, msgspec structs for what the pages read. The
clients speak HTTP through ``ServiceLocator`` (in-process ASGI transport in embedded mode, the
network otherwise), exactly as a third-party tool would.
"""
