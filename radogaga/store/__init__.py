"""The results store: results found by config hash with their provenance, the code
fingerprints that say when a stored result's code changed, its revalidation, and training
checkpoints."""
