// Run records and tasks.
enum ExperimentsModule {}
