"""entrypoints/queues"""
