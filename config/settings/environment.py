"""Where the settings read the environment from: real variables, then .run/services.env."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
# The bootstrap (scripts/services.sh) writes the URLs of the stores it found or
# started here; real environment variables win over the file.
env.read_env(str(RUN_DIR / "services.env"), overwrite=False)
