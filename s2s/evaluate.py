"""`python -m s2s.evaluate`: a command; its code is s2s/training/evaluate.py."""

from .training.evaluate import main

if __name__ == "__main__":
    main()
