"""`python -m radogaga`: see radogaga.cli."""

from radogaga.cli import main

raise SystemExit(main())
