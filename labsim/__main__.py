"""`python -m labsim` is the `labsim` command."""

from .cli import main

main()
