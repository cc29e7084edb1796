"""Accounts: who a caller is (passwords, API tokens) and what they may spend (the credit ledger)."""
