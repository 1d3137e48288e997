"""Quality: Great Expectations suites as code, and the runner that keeps their results.

This is the only package that imports great_expectations.
"""
