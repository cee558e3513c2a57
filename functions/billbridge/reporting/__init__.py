"""Presentation: what the hub shows of the ledger.

KPIs, lineage, contract, customer and downstream views, replay reports and
their comparison, tables, the HTML page and the read API's queries and
documents. Use cases compute; reporting shows. Reporting reads the domain and
the use cases' read ports; neither the domain nor the use cases import it
(an import-linter contract holds this).
"""
