"""`python -m evals`: the same command as `budbringer eval`."""

from evals.cli import main

main()
