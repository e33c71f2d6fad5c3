"""Labs: real measurements on the learner's machine (roofline, ring AllReduce, scheduler simulation,
serving a NumPy transformer with a paged KV cache and continuous batching)."""
