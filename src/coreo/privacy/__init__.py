"""Privacy: keys for personal data, data subject requests, retention."""
