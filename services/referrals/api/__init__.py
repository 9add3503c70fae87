"""HTTP controllers of the referrals service (mounted in ``app.py``)."""
