"""DynamoDB access (one table, pk/sk). Only this package builds DynamoDB requests."""
