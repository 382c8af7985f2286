import os
import sys

sys.stderr.write("crashloop: dying during import\n")
sys.stderr.flush()
os._exit(7)
