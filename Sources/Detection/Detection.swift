// Detection module: see DESIGN.md for its job.
