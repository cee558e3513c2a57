"""Billbridge: keeps contracts (CLM), delivery (PSA) and invoicing (ERP) in step."""

__version__ = "0.1.0"
