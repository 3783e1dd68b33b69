// Reports from run directories.
enum ReportsModule {}
