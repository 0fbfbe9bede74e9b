"""The lab's seven steps (lab-reference section 2): data, apply, check."""
