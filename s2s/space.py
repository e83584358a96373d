"""`python -m s2s.space`: a command; its code is s2s/ship/space.py."""

from .ship.space import main

if __name__ == "__main__":
    raise SystemExit(main())
