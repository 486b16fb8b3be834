import sys

from parking.cli import main

sys.exit(main())
