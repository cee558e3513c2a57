"""entrypoints/workflow"""
