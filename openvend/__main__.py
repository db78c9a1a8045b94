import sys

from openvend.cli import main

sys.exit(main())
