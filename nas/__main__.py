import sys

from nas._cli import main

if __name__ == "__main__":
    sys.exit(main())
