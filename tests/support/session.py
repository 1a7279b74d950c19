"""What every helper of one pytest session shares: its container labels and fake AWS keys."""

from __future__ import annotations

import uuid

# One label per pytest session: teardown and the final check find exactly our containers.
SESSION = uuid.uuid4().hex[:12]
LABELS = {"daily-synthetic.test": "integration", "daily-synthetic.test.session": SESSION}
# moto accepts any keys; real-looking values keep botocore from searching further (no IMDS).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
