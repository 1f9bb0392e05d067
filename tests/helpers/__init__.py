"""What several test modules share: samples, mocked accounts, expected rows, script runs."""
