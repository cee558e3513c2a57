"""System APIs of real products: one module per vendor (see docs/adapters.md).

Each module holds the vendor's signature check, its pure mapping functions
(vendor JSON in, canonical CloudEvents out; testable without AWS or a network)
and, for thin or polled vendors, the client of the vendor's API.
"""
