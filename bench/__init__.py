"""labsim benchmarks (run by hand: `python -m bench`)."""
