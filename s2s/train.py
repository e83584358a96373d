"""`python -m s2s.train`: a command; its code is s2s/training/train.py."""

from .training.train import main

if __name__ == "__main__":
    main()
