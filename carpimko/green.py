"""Import first in every process: eventlet's monkey patching (nameko runs on
eventlet; without it the test fixtures hang instead of failing)."""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()
