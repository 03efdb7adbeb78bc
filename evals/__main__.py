"""`python -m evals ...` is `newsrag eval ...`."""

from rag.cli import main

if __name__ == "__main__":
    import sys

    sys.argv.insert(1, "eval")
    main()
