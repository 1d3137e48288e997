"""Pipeline: the nightly stages, their run records, and the demo that chains them."""
