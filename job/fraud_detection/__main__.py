from fraud_detection.cli import entry

entry()
