"""meetbridge: online video meetings for booking platforms, on AWS Lambda."""
