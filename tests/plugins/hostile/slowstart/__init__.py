import os
import time

_pidfile = os.environ["HYDROGEN_TEST_PIDFILE"]
with open(_pidfile + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(_pidfile + ".tmp", _pidfile)
time.sleep(600)


class SlowStartPlugin:
    pass
