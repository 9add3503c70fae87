"""HTTP controllers of the directory service (mounted in ``app.py``)."""
