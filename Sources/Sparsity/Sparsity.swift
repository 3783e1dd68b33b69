// Placeholder until the moduli regularizer lands.

enum SparsityModule {}
