"""Anonymous referral statistics with statistical secrecy (small cells suppressed)."""
