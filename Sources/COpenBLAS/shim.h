// Umbrella header for OpenBLAS's CBLAS interface (Debian libopenblas-dev, found by pkg-config).
#include <cblas.h>
