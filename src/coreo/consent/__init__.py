"""Consent: the purposes personal data is used for, the ledger, and the policy check."""
