import sys
from pathlib import Path

# Tests import handler/, authorizer/ and devstack/ from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
