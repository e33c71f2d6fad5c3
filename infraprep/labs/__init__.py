"""Labs: real measurements on the learner's machine (roofline, ring AllReduce, scheduler simulation)."""
