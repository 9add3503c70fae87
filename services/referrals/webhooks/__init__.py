"""Signed webhooks (Standard Webhooks) fed by the referrals' transactional outbox."""
