// Engine module: see DESIGN.md for its job.
