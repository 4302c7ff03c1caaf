"""``python -m babylm`` is the same as the ``babylm`` command."""

from babylm.cli import main

if __name__ == "__main__":
    main()
