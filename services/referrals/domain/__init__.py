"""Pure rules of the referrals service: state machine, consent, vocabulary (no I/O)."""
