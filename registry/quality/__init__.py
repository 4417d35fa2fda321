"""Data quality of the register: duplicates, discrepancies, audits and workforce monitoring."""
