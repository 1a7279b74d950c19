"""Helpers shared by the test suites: S3 servers, the job runner, a fault relay."""
