"""`python -m s2s.bench`: a command; its code is s2s/tools/bench.py."""

from .tools.bench import main

if __name__ == "__main__":
    main()
