"""The stream-processing runtime: workers running a pipeline of stages over log batches."""
