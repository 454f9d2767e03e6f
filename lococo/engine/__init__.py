"""Lightning glue shared by all systems: run directories, trainer factory, callbacks, seeding."""
