"""`python -m s2s.publish`: a command; its code is s2s/ship/publish.py."""

from .ship.publish import main

if __name__ == "__main__":
    raise SystemExit(main())
