# Tests of node/ (owned by whoever works on node/).
