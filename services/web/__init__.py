"""The staff web app: French, server-rendered pages over the public APIs of the other services."""
