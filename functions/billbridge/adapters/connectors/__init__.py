"""Connector adapters toward downstream systems (PSA, ERP instances)."""
