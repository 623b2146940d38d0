import sys

from byosms.cli import main

sys.exit(main())
