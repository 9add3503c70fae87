"""The referrals service layer, by feature: ``flows`` (the lifecycle), ``attachments``,
``reading`` (reads and the person's file), ``retention``, ``jobs`` (worker); ``views`` shapes
answers from a snapshot."""

from services.referrals.service.flows import ReferralService

__all__ = ["ReferralService"]
