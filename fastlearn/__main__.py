"""`python -m fastlearn` runs the command line."""
import sys

from fastlearn.cli import main

sys.exit(main())
