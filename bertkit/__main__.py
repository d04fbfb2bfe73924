"""`python -m bertkit` and `torchrun -m bertkit` enter here."""

from bertkit.cli import main

if __name__ == "__main__":
    main()
