"""`python -m s2s.loadtest`: a command; its code is s2s/tools/loadtest.py."""

from .tools.loadtest import main

if __name__ == "__main__":
    main()
