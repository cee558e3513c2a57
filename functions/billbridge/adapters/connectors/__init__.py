"""adapters/connectors"""
