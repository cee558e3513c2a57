"""The billing domain core: pure rules over immutable value objects.

No AWS, no I/O, no clock and no random ids: everything the rules need is passed
in. The pipeline and the billing workflow call these functions; so do the tests
and benchmarks.
"""
