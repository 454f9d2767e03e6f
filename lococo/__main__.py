import sys

from lococo.cli.main import main

sys.exit(main())
