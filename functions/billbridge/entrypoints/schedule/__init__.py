"""entrypoints/schedule"""
