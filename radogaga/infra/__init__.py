"""Infrastructure every layer uses: argument and tensor checks, paths, the device, seeds,
batch order and the one atomic file write."""
