"""French e-mail notifications of the referrals service (SMTP, or .eml files when embedded)."""
